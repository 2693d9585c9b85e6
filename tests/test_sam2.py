"""The SAM2 segmenter backend, run for real on a tiny SAM2 with random weights, and the prompting it gets."""

import json
import re

import numpy as np
import pytest

from conftest import moving_square_clip, write_frames
from movseg.cli import main
from movseg.errors import MovsegError
from movseg.masks import build_segmenter, check_segmenter
from movseg.method import prompt_objects
from movseg.types import Tracks, Video

pytest.importorskip("transformers")


def _video(T=10):
    frames, _ = moving_square_clip(T=T)
    return Video(frames, 25.0, [f"{i:05d}" for i in range(T)])


def _run(seg, video, prompts):
    state = seg.init_state(video)
    for f, k, pts in prompts:
        seg.add_points(state, f, k, np.array(pts, np.float32), np.ones(len(pts), int))
    return list(seg.propagate(state))


def test_sam2_yields_every_frame_in_order_with_non_overlapping_masks(sam2_checkpoint):
    video = _video()
    out = _run(build_segmenter("sam2", checkpoint=sam2_checkpoint), video, [(4, 1, [[30, 48], [40, 50]]), (7, 2, [[100, 20]])])
    assert [f for f, _, _ in out] == list(range(10))
    for _, ids, masks in out:
        assert ids == [1, 2] and masks.shape == (2, 96, 128) and masks.dtype == bool
        assert not (masks[0] & masks[1]).any()


def test_sam2_gives_every_object_a_mask_before_and_after_its_first_prompt(sam2_checkpoint):
    """At a threshold no logit misses, every pixel goes to exactly one object on every frame, including the
    frames before an object's first prompt (the backward pass) and after it (the forward pass); at one no
    logit reaches, none does."""
    video = _video()
    prompts = [(4, 1, [[30, 48]]), (7, 2, [[100, 20]]), (8, 2, [[90, 30]])]
    everything = _run(build_segmenter("sam2", checkpoint=sam2_checkpoint, threshold=-1e9), video, prompts)
    for _, _, masks in everything:
        assert (masks.sum(0) == 1).all()
    nothing = _run(build_segmenter("sam2", checkpoint=sam2_checkpoint, threshold=1e9), video, prompts)
    assert not any(m.any() for _, _, m in nothing)


def test_sam2_with_no_prompts_gives_empty_frames(sam2_checkpoint):
    seg = build_segmenter("sam2", checkpoint=sam2_checkpoint)
    assert build_segmenter("sam2", checkpoint=sam2_checkpoint).model is seg.model  # loaded once, for every piece
    out = _run(seg, _video(4), [])
    assert [(f, ids, m.shape) for f, ids, m in out] == [(f, [], (0, 96, 128)) for f in range(4)]


@pytest.mark.parametrize("make,message", [
    (lambda p: None, "needs a local checkpoint"),
    (lambda p: p / "nowhere", "config.json missing"),
    (lambda p: (p / "config.json").write_text('{"model_type": "dinov2"}') and p, "not SAM2"),
    (lambda p: (p / "config.json").write_text('{"model_type": "sam2_video"}') and p, "never unpickles"),
])
def test_sam2_checkpoint_problems_are_one_line_errors(tmp_path, make, message):
    with pytest.raises(MovsegError, match=message) as e:
        check_segmenter("sam2", checkpoint=make(tmp_path))
    assert "\n" not in str(e.value)
    with pytest.raises(MovsegError, match="unknown segmenter"):
        check_segmenter("sam3")


@pytest.mark.parametrize("pieces,dtype", [(False, None), (True, None), (False, "bfloat16")],
                         ids=["whole", "pieces", "bfloat16"])
def test_segment_with_sam2_from_the_command_line(tmp_path, capsys, sam2_checkpoint, pieces, dtype):
    T = 20 if pieces else 8
    frames, _ = moving_square_clip(T=T, speed=2)
    write_frames(tmp_path / "clip", frames)
    code = main(["segment", str(tmp_path / "clip"), "-o", str(tmp_path / "out"), "--segmenter", "sam2",
                 "--sam2-checkpoint", sam2_checkpoint, "--no-overlay", "--save-tracks", "-q",
                 *(["--segment-frames", "12"] if pieces else []), *(["--sam2-dtype", dtype] if dtype else [])])
    assert code == 0, capsys.readouterr().err
    folder = tmp_path / "out" / "clip"
    r = json.loads((folder / "result.json").read_text())
    assert r["config"]["movseg"]["segmenter"] == "sam2"
    assert r["config"]["movseg"]["segmenter_options"] == {"checkpoint": sam2_checkpoint, "device": "auto",
                                                          **({"dtype": dtype} if dtype else {})}
    saved = sorted(folder.glob("tracks/*.npz")) if pieces else [folder / "tracks.npz"]
    assert len(saved) == (2 if pieces else 1)
    # the square was grouped in every piece, so SAM2 was prompted in every piece
    assert all(np.load(f)["object_id"].max() >= 1 for f in saved)
    assert r["timings"]["masks"] > 0 and len(list((folder / "masks").glob("*.png"))) == T


@pytest.mark.parametrize("opts,message", [
    (["--segmenter", "sam2"], "--sam2-checkpoint DIR"),
    (["--sam2-checkpoint", "somewhere"], "--sam2-checkpoint is for --segmenter sam2"),
    (["--sam2-dtype", "bfloat16"], "--sam2-dtype is for --segmenter sam2"),
])
def test_segment_with_sam2_misconfigured_fails_before_tracking(tmp_path, capsys, opts, message):
    frames, _ = moving_square_clip(T=8)
    write_frames(tmp_path / "clip", frames)
    code = main(["segment", str(tmp_path / "clip"), "-o", str(tmp_path / "out"), *opts])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("movseg: error")]
    assert code == 1 and len(lines) == 1 and re.search(re.escape(message), lines[0]), err
    assert not (tmp_path / "out").exists()


class _Recorder:
    """A segmenter that records its prompts (the prompting stage's side of the interface)."""

    dense_prompts = False

    def __init__(self):
        self.calls = []

    def add_points(self, state, frame, obj_id, points, labels):
        assert len(points) == len(labels)
        self.calls.append((frame, obj_id, len(points), list(labels)))


def test_few_point_backends_are_prompted_segAnyMo_style_at_intervals():
    """Object 1: its most visible frame (20), then every 15 frames from it where at least a fifth as many of
    its tracks are visible (5, 35; not 50, where only one is); 3 positive points each. Object 2 has two
    tracks: two positive points, on its best frame only."""
    T, rng = 60, np.random.default_rng(0)
    n1 = 40
    visible = np.zeros((n1 + 2, T), bool)
    for i in range(n1):
        visible[i, 20 - i // 2:21 + i // 2] = True  # frame 20 sees them all, frames 5 and 35 a quarter
    visible[0, 50] = True
    visible[n1:, 30:33] = True
    xy = rng.uniform(0, 100, (n1 + 2, T, 2)).astype(np.float32)
    tracks = Tracks(xy, visible, visible.astype(np.float32), np.zeros(n1 + 2, np.int32))
    object_id = np.r_[np.ones(n1, np.int32), 2, 2]
    rec = _Recorder()
    prompt_objects(rec, None, tracks, object_id, np.ones(n1 + 2, np.float32), 0.7, every=15)
    assert sorted(rec.calls) == [(5, 1, 3, [1, 1, 1]), (20, 1, 3, [1, 1, 1]), (30, 2, 2, [1, 1]), (35, 1, 3, [1, 1, 1])]
    with pytest.raises(MovsegError, match="at least 1 frame"):
        prompt_objects(rec, None, tracks, object_id, np.ones(n1 + 2, np.float32), 0.7, every=0)
