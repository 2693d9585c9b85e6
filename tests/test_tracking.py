"""Tracking: the flow tracker and baselines, queries, TAP-Vid metrics, edge cases, CLI."""

import numpy as np
import pytest

from conftest import moving_square_clip, write_frames
from movseg.cli import main
from movseg.errors import MovsegError
from movseg.synth import generate_scene
from movseg.tracking import TRACKERS, build_tracker, make_queries, track_video
from movseg.tracking.base import queries_from_tracks
from movseg.tracking.metrics import membership_consistency, tapvid_metrics
from movseg.types import Video


def video_of(frames):
    return Video(np.ascontiguousarray(frames), 24.0, [f"{i:05d}" for i in range(len(frames))])


def gt_queries(tracks):
    return queries_from_tracks(tracks["xy"], tracks["query_frame"])


@pytest.fixture(scope="module")
def scene():
    return generate_scene(2026, 0, "test", frames=12, size=(128, 224))


def test_make_queries_grid_and_subsampling():
    q = make_queries(20, 48, 64, grid_size=16, step=8)
    assert q.shape == (3 * 3 * 4, 3) and set(q[:, 0]) == {0, 8, 16}
    assert set(q[:, 1]) == {8, 24, 40, 56} and set(q[:, 2]) == {8, 24, 40}
    sub = make_queries(20, 48, 64, grid_size=16, step=8, max_tracks=10)
    assert len(sub) == 10 and np.array_equal(sub, make_queries(20, 48, 64, 16, 8, 10))


def test_tapvid_metrics_hand_cases():
    gt = np.zeros((1, 3, 2), np.float32)
    vis = np.ones((1, 3), bool)
    perfect = tapvid_metrics(gt, vis, gt, vis, [0], (256, 256))
    assert perfect["AJ"] == 1 and perfect["delta_avg"] == 1 and perfect["OA"] == 1
    off = gt.copy()
    off[0, 1:, 0] = 3.0  # 3 px off on both evaluated frames: within 4, 8, 16 only
    m = tapvid_metrics(gt, vis, off, vis, [0], (256, 256))
    assert m["delta_avg"] == pytest.approx(3 / 5)
    assert m["AJ"] == pytest.approx(np.mean([0, 0, 1, 1, 1]))
    occ = vis.copy()
    occ[0, 2] = False  # predicting "occluded" on a visible frame: OA drops, and no false positive
    m = tapvid_metrics(gt, vis, gt, occ, [0], (256, 256))
    assert m["OA"] == 0.5 and m["AJ"] == pytest.approx(0.5)
    scaled = tapvid_metrics(gt, vis, off, vis, [0], (512, 512))  # 3 px at 512 = 1.5 px at 256
    assert scaled["delta_2"] == 1.0


def test_membership_consistency():
    masks = np.zeros((3, 10, 10), bool)
    masks[:, :, 5:] = True
    xy = np.array([[[7, 5], [7, 5], [2, 5]], [[1, 1], [1, 1], [1, 1]]], np.float32)
    vis = np.ones((2, 3), bool)
    assert membership_consistency(xy, vis, np.array([0, 0]), masks) == (3, 4)
    assert membership_consistency(xy, vis, np.array([0, 0]), masks, only_foreground=True) == (1, 2)


@pytest.mark.parametrize("name", sorted(TRACKERS))
def test_trackers_follow_synthetic_ground_truth(scene, name):
    tr = build_tracker(name)(video_of(scene.frames), gt_queries(scene.tracks))
    N, T = scene.tracks["visible"].shape
    assert tr.xy.shape == (N, T, 2) and tr.visible.shape == (N, T) and tr.confidence.shape == (N, T)
    assert ((tr.confidence >= 0) & (tr.confidence <= 1)).all()
    m = tapvid_metrics(scene.tracks["xy"], scene.tracks["visible"], tr.xy, tr.visible, tr.query_frame, (128, 224))
    assert m["delta_avg"] > 0.6
    # the query point itself is returned exactly
    n = np.arange(N)
    assert np.abs(tr.xy[n, tr.query_frame] - scene.tracks["xy"][n, scene.tracks["query_frame"]]).max() < 1e-3


def test_flow_tracker_beats_naive_chaining_on_occlusion(scene):
    q = gt_queries(scene.tracks)
    gt = scene.tracks
    ours = build_tracker("flow")(video_of(scene.frames), q)
    naive = build_tracker("dis-naive")(video_of(scene.frames), q)
    false_visible = lambda tr: np.sum(tr.visible & ~gt["visible"]) / max(np.sum(~gt["visible"]), 1)
    assert false_visible(ours) <= false_visible(naive)


def test_confidence_predicts_error(scene):
    tr = build_tracker("flow")(video_of(scene.frames), gt_queries(scene.tracks))
    vis = tr.visible & scene.tracks["visible"]
    err = np.linalg.norm(tr.xy - scene.tracks["xy"], axis=-1)[vis]
    conf = tr.confidence[vis]
    good, bad = conf[err < 2], conf[err > 8]
    if len(bad) >= 5:
        assert good.mean() > bad.mean()


def test_camera_pan_tracks_a_moving_square():
    frames, labels = moving_square_clip(T=6, speed=3)
    q = np.array([[0, 10 + 14, 48], [0, 100, 10], [5, 10 + 15 + 14, 48]], np.float32)  # square centre, background
    tr = build_tracker("flow")(video_of(frames), q)
    assert np.allclose(tr.xy[0, :, 0], 24 + 3 * np.arange(6), atol=1.0)
    assert np.allclose(tr.xy[1, :, 0], 100, atol=0.5)
    assert np.allclose(tr.xy[2, :, 0], 24 + 3 * np.arange(6), atol=1.0)  # tracked backward from frame 5


def test_a_long_link_finds_a_point_that_two_corrupted_frames_made_the_chain_lose():
    frames, labels = moving_square_clip(T=9, h=160, w=224, size=48, speed=2)
    rng = np.random.default_rng(0)
    for t in (2, 3):  # the square turns to noise: the frame-to-frame steps through it fail
        m = labels[t] > 0
        frames[t][m] = rng.integers(0, 256, (m.sum(), 3))
    q = np.array([[0, 34, 80]], np.float32)  # on the square, which moves 2 px per frame
    truth = 34 + 2 * np.arange(9)
    chained = build_tracker("flow", link=0)(video_of(frames), q)
    assert not chained.visible[0, 4:].any()  # lost for good: the camera-motion search looks where it was
    linked = build_tracker("flow")(video_of(frames), q)  # default: links from frame 0 to 4 and 4 to 8
    assert linked.visible[0, 4:].all() and (linked.confidence[0, 4:] > 0).all()
    assert np.abs(linked.xy[0, 4:, 0] - truth[4:]).max() < 1.0 and np.abs(linked.xy[0, 4:, 1] - 80).max() < 1.0


def test_the_pipeline_tracks_as_its_shipped_weights_learnt():
    import json

    from movseg.method import MethodConfig, tracker_options
    from movseg.motion.predict import DEFAULT_WEIGHTS
    from movseg.tracking.flow_tracker import FlowTrackerConfig

    assert FlowTrackerConfig().link == 4  # `movseg track` and the tracker's own default link
    trained = json.loads(DEFAULT_WEIGHTS.with_suffix(".json").read_text())["training"]["tracker_options"]
    assert MethodConfig().tracker_options is None
    assert tracker_options("flow") == trained == {"link": 0, "finest_scale": 0}
    assert tracker_options("lk") == {} and tracker_options("flow", {}) == {}  # other trackers; explicit settings win
    frames, _ = moving_square_clip(T=9, h=160, w=224, size=48, speed=2)
    q = np.array([[0, 34, 80], [4, 150, 30]], np.float32)
    a = track_video(video_of(frames), queries=q, **tracker_options("flow"))
    b = build_tracker("flow", link=0, finest_scale=0)(video_of(frames), q)
    assert np.array_equal(a.xy, b.xy) and np.array_equal(a.visible, b.visible)


# ---- edge cases ----
def test_one_frame_video():
    frames, _ = moving_square_clip(T=1)
    tr = track_video(video_of(frames), grid_size=16)
    assert tr.num_frames == 1 and tr.visible.all()


def test_query_outside_the_frame_and_at_the_last_frame():
    frames, _ = moving_square_clip(T=5)
    q = np.array([[0, -20, 10], [2, 500, 500], [4, 60, 40]], np.float32)
    tr = build_tracker("flow")(video_of(frames), q)
    assert not tr.visible[0].any() and not tr.visible[1].any()
    assert (tr.confidence[:2] == 0).all()
    assert tr.visible[2, 4] and tr.visible[2].sum() >= 4  # tracked backward from the last frame
    with pytest.raises(MovsegError, match="query frames"):
        build_tracker("flow")(video_of(frames), np.array([[5, 1, 1]], np.float32))
    with pytest.raises(MovsegError, match=r"\(N, 3\)"):
        build_tracker("flow")(video_of(frames), np.zeros((2, 2), np.float32))


def test_identical_frames_and_black_video():
    frames, _ = moving_square_clip(T=1)
    still = np.repeat(frames, 5, axis=0)
    tr = track_video(video_of(still), grid_size=16, step=2)
    n = np.arange(tr.num_tracks)
    assert np.abs(tr.xy - tr.xy[n, tr.query_frame][:, None]).max() < 0.05
    assert tr.visible.all()
    black = np.zeros((4, 32, 48, 3), np.uint8)
    tr = track_video(video_of(black), grid_size=8)
    assert np.isfinite(tr.xy).all() and np.abs(tr.xy - tr.xy[:, :1]).max() < 0.05


def test_unknown_tracker():
    with pytest.raises(MovsegError, match="unknown tracker"):
        build_tracker("nope")


# ---- CLI ----
def test_cli_track(tmp_path, capsys):
    frames, _ = moving_square_clip(T=6)
    write_frames(tmp_path / "clip", frames)
    code = main(["track", str(tmp_path / "clip"), "-o", str(tmp_path / "t.npz"), "--grid-size", "16", "--step", "4",
                 "--vis", str(tmp_path / "v.png")])
    assert code == 0, capsys.readouterr().err
    z = np.load(tmp_path / "t.npz")
    assert set(z.files) == {"xy", "visible", "confidence", "query_frame"}
    assert z["xy"].shape[1:] == (6, 2) and set(np.unique(z["query_frame"])) == {0, 4}
    assert (tmp_path / "v.png").is_file()
    np.save(tmp_path / "q.npy", np.array([[0, 24, 48], [3, 100, 10]], np.float32))
    code = main(["track", str(tmp_path / "clip"), "-o", str(tmp_path / "q.npz"), "--queries", str(tmp_path / "q.npy"),
                 "--max-side", "64", "--vis", str(tmp_path / "v.mp4"), "-q"])
    assert code == 0
    z = np.load(tmp_path / "q.npz")
    assert z["xy"].shape == (2, 6, 2)
    assert np.allclose(z["xy"][:, 0], [[24, 48], [100, 10]], atol=1e-3)  # query frame: back at full resolution
    assert z["xy"][0, 5, 0] > 24 + 5  # the square moved right
    assert (tmp_path / "v.mp4").stat().st_size > 0
    (tmp_path / "bad.npy").write_bytes(b"junk")
    code = main(["track", str(tmp_path / "clip"), "-o", str(tmp_path / "b.npz"), "--queries", str(tmp_path / "bad.npy")])
    assert code == 1 and "cannot read queries" in capsys.readouterr().err
    assert not (tmp_path / "b.npz").exists()
    # --link 0: the tracks `movseg segment` uses; --link does not apply to LK
    assert main(["track", str(tmp_path / "clip"), "-o", str(tmp_path / "n.npz"), "--queries", str(tmp_path / "q.npy"),
                 "--link", "0", "-q"]) == 0
    assert np.array_equal(np.load(tmp_path / "n.npz")["xy"],
                          track_video(video_of(frames), queries=np.load(tmp_path / "q.npy"), link=0).xy)
    code = main(["track", str(tmp_path / "clip"), "-o", str(tmp_path / "l.npz"), "--tracker", "lk", "--link", "2"])
    err = capsys.readouterr().err
    assert code == 1 and "--link applies to the flow trackers" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "l.npz").exists()


def test_cli_bench_tracks_synth(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "s"), "--scenes", "1", "--frames", "6", "--size", "64x96", "-q"]) == 0
    code = main(["bench", "tracks", "--synth", str(tmp_path / "s"), "--json", str(tmp_path / "b.json"), "-q"])
    out = capsys.readouterr().out
    assert code == 0 and "AJ" in out
    import json

    r = json.loads((tmp_path / "b.json").read_text())
    assert 0 <= r["mean"]["AJ"] <= 1 and r["seconds_per_frame"] > 0


def test_no_track_runs_across_a_shot_change():
    from conftest import two_shot_clip
    from movseg.tracking import build_tracker, find_cuts, make_queries, track_shots
    from movseg.types import Video

    video = Video(two_shot_clip(), 24.0, [f"{i:05d}" for i in range(16)])
    tracks, cuts = track_shots(video, grid_size=8, step=4)
    assert cuts == [8]
    raw = build_tracker("flow")(video, make_queries(16, 96, 128, 8, 4))
    assert (raw.visible[:, :8].any(1) & raw.visible[:, 8:].any(1)).any()  # the flow carried a few points across
    assert find_cuts(tracks.visible) == [8]
    across = tracks.visible[:, :8].any(1) & tracks.visible[:, 8:].any(1)
    assert not across.any() and tracks.visible[:, 7].sum() > 50 and tracks.visible[:, 8].sum() > 50
    assert (tracks.confidence[~tracks.visible] == 0).all()
    # each track keeps the shot of its query frame
    assert (tracks.visible[tracks.query_frame < 8, 8:] == 0).all()
    assert (tracks.visible[tracks.query_frame >= 8, :8] == 0).all()


def test_find_cuts_needs_few_survivors_both_ways_and_enough_points():
    from movseg.tracking import find_cuts

    v = np.zeros((100, 4), bool)
    v[:60, 0] = v[:60, 1] = True  # frames 0-1: the same 60 points
    v[51:, 2] = True  # frame 2: 49 points, 9 of the 60 kept (15 % of 60, 18 % of 49)
    v[:5, 3] = True  # frame 3: 5 points, none kept, but too few to judge
    assert find_cuts(v) == [2]
    assert find_cuts(v, min_survival=0.15) == []


def test_tracks_are_drawn_in_their_objects_colour():
    from movseg.io.masks import DAVIS_PALETTE
    from movseg.tracking.viz import draw_tracks
    from movseg.types import Tracks

    video = Video(np.zeros((3, 40, 60, 3), np.uint8), 24.0, ["0", "1", "2"])
    xy = np.array([[[10.0, 10.0]] * 3, [[40.0, 30.0]] * 3, [[50.0, 10.0]] * 3], np.float32)  # (N, T, 2), still
    tracks = Tracks(xy, np.ones((3, 3), bool), np.ones((3, 3), np.float32), np.zeros(3, int))
    frames = list(draw_tracks(video, tracks, object_id=np.array([0, 2, 0])))
    assert len(frames) == 3
    assert frames[2][30, 40].tolist() == DAVIS_PALETTE[2].tolist()  # the object's mask colour
    assert frames[2][10, 10].tolist() == [150, 150, 150]  # on no object: grey
    one = list(draw_tracks(video, tracks, max_tracks=1, object_id=np.array([0, 2, 0])))[0]
    assert one[30, 40].tolist() == DAVIS_PALETTE[2].tolist() and one[10, 10].tolist() == [0, 0, 0]
    xy4 = np.concatenate([xy, np.full((1, 3, 2), 20.0, np.float32)])  # a fourth track at (20, 20)
    tracks4 = Tracks(xy4, np.ones((4, 3), bool), np.ones((4, 3), np.float32), np.zeros(4, int))
    three = list(draw_tracks(video, tracks4, max_tracks=3, object_id=np.array([2, 2, 0, 2])))[0]
    assert three[10, 50].tolist() == [150, 150, 150]  # a third of the budget stays with the static tracks
    assert sum(three[y, x].tolist() == DAVIS_PALETTE[2].tolist() for x, y in ((10, 10), (40, 30), (20, 20))) == 2


def test_flow_at_full_size_keeps_up_with_a_small_object():
    """DIS medium computes its finest flow at half the working size, where a 20 px square is pulled towards the
    scenery around it; ``finest_scale=0`` follows it (docs/tracking.md, "A small object behind a pillar")."""
    from movseg.tracking import FlowTracker

    frames, labels = moving_square_clip(T=12, h=120, w=240, size=20, speed=4)
    video = Video(frames, 24.0, [f"{i:05d}" for i in range(len(frames))])
    ys, xs = np.nonzero(labels[0])
    queries = np.stack([np.zeros(len(xs)), xs, ys], 1)[::7].astype(np.float32)  # points on the square at frame 0
    truth = queries[:, 1:] + [4.0 * (len(frames) - 1), 0]
    errors = {}  # median distance from the truth at the last frame, over the points (visible or not)
    for finest in (None, 0):
        tracks = FlowTracker(finest_scale=finest)(video, queries)
        errors[finest] = np.median(np.linalg.norm(tracks.xy[:, -1] - truth, axis=1))
    assert errors[0] < 2.0 and errors[None] > 5.0, errors  # measured: 1.2 and 15.5 px
