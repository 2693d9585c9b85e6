"""The synthetic generator: determinism, ground-truth consistency, parallax, files on disk."""

import hashlib
import json

import cv2
import numpy as np
import pytest

from movseg.cli import main
from movseg.io import read_mask
from movseg.synth import generate_scene, iter_scenes, write_scene
from movseg.synth.generate import contact_sheet
from movseg.types import mask_from_intervals

SMALL = dict(frames=8, size=(96, 160))


@pytest.fixture(scope="module")
def scenes():
    return [generate_scene(7, i, "train", **SMALL) for i in range(6)]


def track_consistency(scene) -> float:
    """Fraction of visible GT track points that land on their own object's instance mask."""
    tr = scene.tracks
    vis = tr["visible"]
    t = np.broadcast_to(np.arange(vis.shape[1]), vis.shape)[vis]
    x = np.round(tr["xy"][..., 0][vis]).astype(int)
    y = np.round(tr["xy"][..., 1][vis]).astype(int)
    obj = np.broadcast_to(tr["object_id"][:, None], vis.shape)[vis]
    return float((scene.instances[t, y, x] == obj).mean())


def test_shapes_and_types(scenes):
    s = scenes[0]
    T, (H, W) = 8, (96, 160)
    assert s.frames.shape == (T, H, W, 3) and s.frames.dtype == np.uint8
    assert s.instances.shape == (T, H, W) and s.masks.shape == (T, H, W)
    assert s.depth.shape == (T, H, W) and s.depth.dtype == np.float32 and (s.depth > 0).all()
    N = len(s.tracks["object_id"])
    assert s.tracks["xy"].shape == (N, T, 2) and s.tracks["xy"].dtype == np.float32
    assert s.tracks["visible"].shape == (N, T) and s.tracks["moving"].shape == (N, T)
    assert s.tracks["query_frame"].dtype == np.int32 and set(np.unique(s.tracks["query_frame"])) <= {0}  # step 8 > T-1
    assert N > 20


def test_determinism_and_independence_from_count():
    a = generate_scene(3, 2, "train", **SMALL)
    b = list(iter_scenes(3, 2, "train", start=1, **SMALL))[1]  # index 2 again, in a different set size
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.instances, b.instances)
    for k in a.tracks:
        assert np.array_equal(a.tracks[k], b.tracks[k])
    c = generate_scene(4, 2, "train", **SMALL)
    assert not np.array_equal(a.frames, c.frames)


def test_presets_never_share_scenes():
    a = generate_scene(0, 0, "train", **SMALL)
    b = generate_scene(0, 0, "test", **SMALL)
    assert not np.array_equal(a.frames, b.frames)


def local_std(frames: np.ndarray) -> float:
    """Median grey-level standard deviation of 7x7 windows."""
    g = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]).astype(np.float32)
    m = np.stack([cv2.blur(x, (7, 7)) for x in g])
    m2 = np.stack([cv2.blur(x * x, (7, 7)) for x in g])
    return float(np.median(np.sqrt(np.maximum(m2 - m * m, 0))))


def test_the_detail_preset_adds_grain_to_the_same_scenes(scenes):
    plain = scenes[1]
    detail = generate_scene(7, 1, "train-detail", **SMALL)
    # the same layout, motions and ground truth: only the surfaces' fine texture differs
    assert np.array_equal(plain.instances, detail.instances) and np.array_equal(plain.depth, detail.depth)
    for k in plain.tracks:
        assert np.array_equal(plain.tracks[k], detail.tracks[k])
    assert local_std(detail.frames) > 1.5 * local_std(plain.frames)
    assert detail.name == "train-detail-7-00001"


def test_tracks_land_on_their_objects(scenes):
    for s in scenes:
        assert track_consistency(s) >= 0.99


def test_track_depth_matches_depth_map(scenes):
    s = scenes[1]
    vis = s.tracks["visible"]
    assert vis[np.arange(len(vis)), s.tracks["query_frame"]].all()  # visible where queried
    q = s.tracks["query_frame"]
    xy = s.tracks["xy"][np.arange(len(q)), q]
    assert np.abs(xy - np.round(xy)).max() < 1e-3  # queries sit on pixel centres


def test_masks_hold_only_objects_that_move(scenes):
    for s in scenes:
        ever = {k + 1 for k in range(s.moving.shape[0]) if s.moving[k].any()}
        assert set(np.unique(s.masks)) - {0} <= ever
        assert np.array_equal(s.masks > 0, np.isin(s.instances, list(ever)))
        for o in s.meta["objects"]:
            assert np.array_equal(mask_from_intervals(o["moving"], 8), s.moving[o["id"] - 1])
        on_obj = s.tracks["object_id"] > 0
        for k in np.unique(s.tracks["object_id"][on_obj]):
            assert np.array_equal(s.tracks["moving"][s.tracks["object_id"] == k][0], s.moving[k - 1])


def test_the_set_has_stops_lookalikes_and_empty_scenes():
    profiles, kinds, empty = set(), set(), 0
    for s in iter_scenes(11, 30, "train", frames=8, size=(48, 80)):
        profiles |= {o["profile"] for o in s.meta["objects"]}
        kinds |= {o["kind"] for o in s.meta["objects"]}
        empty += not s.meta["objects"]
    assert {"always", "stop-start"} <= profiles
    assert {"rigid", "articulated", "deforming", "static-lookalike"} <= kinds
    assert empty >= 1


def test_camera_translation_gives_parallax():
    """Scenery points of a translating camera are not explained by one homography: in most
    such scenes over 10 % of them are more than 1 px off the best (RANSAC) homography."""
    off = []
    for s in iter_scenes(5, 12, "train", frames=8, size=(96, 160)):
        if s.meta["camera"]["speed_m_per_frame"] < 0.03:
            continue
        tr = s.tracks
        both = tr["visible"][:, 0] & tr["visible"][:, -1] & (tr["object_id"] == 0)
        if both.sum() < 20:
            continue
        a, b = tr["xy"][both, 0], tr["xy"][both, -1]
        H, _ = cv2.findHomography(a, b, cv2.RANSAC, 1.0)
        pred = cv2.perspectiveTransform(a[:, None], H)[:, 0]
        off.append(np.mean(np.linalg.norm(pred - b, axis=1) > 1.0) > 0.1)
    assert len(off) >= 3
    assert np.mean(off) > 0.5


def test_write_scene_layout_and_bytes_are_reproducible(tmp_path, scenes):
    s = scenes[2]
    p1 = write_scene(s, tmp_path / "a")
    p2 = write_scene(s, tmp_path / "b")
    files = sorted(f.relative_to(p1).as_posix() for f in p1.rglob("*") if f.is_file())
    assert "meta.json" in files and "depth.npz" in files and "tracks.npz" in files
    assert sum(f.startswith("frames/") and f.endswith(".jpg") for f in files) == 8
    assert sum(f.startswith("masks/") for f in files) == 8 and sum(f.startswith("instances/") for f in files) == 8
    digest = lambda root: [hashlib.md5((root / f).read_bytes()).hexdigest() for f in files]
    assert digest(p1) == digest(p2)
    frame = cv2.imread(str(p1 / "frames" / "00003.jpg"))[:, :, ::-1]
    assert np.array_equal(frame, s.frames[3])  # the in-memory frames are the decoded JPEGs
    assert np.array_equal(read_mask(p1 / "instances" / "00005.png"), s.instances[5])
    tracks = np.load(p1 / "tracks.npz")
    assert set(tracks.files) == {"xy", "visible", "object_id", "query_frame", "moving"}
    meta = json.loads((p1 / "meta.json").read_text())
    assert len(meta["world_to_camera"]) == 8 and np.array(meta["intrinsics"]).shape == (3, 3)
    depth = np.load(p1 / "depth.npz")["depth"]
    assert depth.dtype == np.float32 and np.allclose(depth, s.depth, rtol=1e-3)


def test_contact_sheet(scenes):
    sheet = contact_sheet(scenes[:2], frames_per_scene=3, width=100)
    assert sheet.shape == (2 * 60, 300, 3)


def test_cli_synth(tmp_path, capsys):
    code = main(["synth", str(tmp_path / "s"), "--scenes", "2", "--frames", "4", "--size", "48x80", "-q",
                 "--contact-sheet", str(tmp_path / "sheet.png")])
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["train-0-00000", "train-0-00001"]
    assert (tmp_path / "sheet.png").is_file()
    with pytest.raises(SystemExit):
        main(["synth", str(tmp_path / "x"), "--size", "big"])
    assert "expected HxW" in capsys.readouterr().err
