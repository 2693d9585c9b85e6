"""The command line: segment, eval and bench end to end, and every bad input."""

import json
import re
import subprocess
import sys

import av
import cv2
import numpy as np
import pytest

from conftest import moving_square_clip, two_shot_clip, write_frames
from movseg.cli import main
from movseg.io import read_mask, write_mask


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


# ---- segment ----
def test_segment_finds_the_moving_square(tmp_path, capsys):
    frames, labels = moving_square_clip(T=8)
    write_frames(tmp_path / "clip", frames)
    code, out, err = run(capsys, "segment", tmp_path / "clip", "-o", tmp_path / "out")
    assert code == 0, err
    assert "masks:" in out and "overlay:" in out
    folder = tmp_path / "out" / "clip"
    pred = np.stack([read_mask(folder / "masks" / f"{i:05d}.png") for i in range(8)])
    iou = ((pred > 0) & (labels > 0)).sum() / ((pred > 0) | (labels > 0)).sum()
    assert iou > 0.6
    r = json.loads((folder / "result.json").read_text())
    assert r["frames"] == 8 and r["config"]["method"] == "movseg"
    assert {"read", "track", "cues", "motion", "objects", "masks", "write", "total"} <= set(r["timings"])
    assert len(r["objects"]) == 1 and r["objects"][0]["moving"] == [[0, 7]]


def test_segment_max_side_writes_full_size_masks(tmp_path, capsys):
    frames, _ = moving_square_clip(T=4, h=96, w=128)
    write_frames(tmp_path / "clip", frames)
    code, _, err = run(capsys, "segment", tmp_path / "clip", "-o", tmp_path / "out", "--max-side", "64", "--method", "empty", "--quiet")
    assert code == 0, err
    assert read_mask(tmp_path / "out" / "clip" / "masks" / "00003.png").shape == (96, 128)


def test_segment_works_on_large_frames_at_854_px_and_writes_full_size_masks(tmp_path, capsys):
    frames, _ = moving_square_clip(T=3, h=96, w=128)
    big = [cv2.resize(f, (1800, 1350), interpolation=cv2.INTER_NEAREST) for f in frames]  # beyond the default
    write_frames(tmp_path / "clip", big)
    code, _, err = run(capsys, "segment", tmp_path / "clip", "-o", tmp_path / "out", "--method", "empty", "-q")
    assert code == 0, err
    result = json.loads((tmp_path / "out" / "clip" / "result.json").read_text())
    assert result["config"]["max_side"] == 854 and result["size"] == [1350, 1800]
    assert read_mask(tmp_path / "out" / "clip" / "masks" / "00002.png").shape == (1350, 1800)


def test_segment_threshold_option(tmp_path, capsys):
    frames, _ = moving_square_clip(T=8)
    write_frames(tmp_path / "clip", frames)
    for value, expect in (("0.55", lambda t: t == 0.55), ("auto", lambda t: 0 < t < 1)):
        code, _, err = run(capsys, "segment", tmp_path / "clip", "-o", tmp_path / value, "-q", "--no-overlay",
                           "--threshold", value)
        assert code == 0, err
        result = json.loads((tmp_path / value / "clip" / "result.json").read_text())
        assert expect(result["grouping_threshold"]) and result["objects"]  # the square, and at 0.55 perhaps more
        assert result["config"]["movseg"]["auto_threshold"] == (value == "auto")
    with pytest.raises(SystemExit) as e:
        main(["segment", str(tmp_path / "clip"), "-o", str(tmp_path / "bad"), "--threshold", "1"])
    assert e.value.code == 2 and "between 0 and 1" in capsys.readouterr().err
    code, _, err = run(capsys, "segment", tmp_path / "clip", "-o", tmp_path / "base", "--threshold", "0.5",
                       "--method", "empty")
    assert code == 1 and "--threshold" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists() and not (tmp_path / "base").exists()


def test_segment_name_option(tmp_path, capsys):
    frames, _ = moving_square_clip(T=3)
    write_frames(tmp_path / "scene" / "frames", frames)
    code, _, _ = run(capsys, "segment", tmp_path / "scene" / "frames", "-o", tmp_path / "out", "--name", "scene",
                     "--method", "empty", "-q", "--no-overlay")
    assert code == 0 and (tmp_path / "out" / "scene" / "masks" / "00002.png").is_file()
    code, _, err = run(capsys, "segment", tmp_path / "scene" / "frames", "-o", tmp_path / "o2", "--name", "../x")
    assert code == 1 and "--name" in err and not (tmp_path / "o2").exists()


def test_segment_nothing_moves(tmp_path, capsys):
    frames, _ = moving_square_clip(T=5, speed=0)
    write_frames(tmp_path / "still", frames)
    code, out, _ = run(capsys, "segment", tmp_path / "still", "-o", tmp_path / "out", "--no-overlay")
    assert code == 0
    assert "no moving objects found" in out
    assert not (tmp_path / "out" / "still" / "overlay.mp4").exists()


def _mixed_sizes(p):
    d = p / "sizes"
    d.mkdir()
    cv2.imwrite(str(d / "a.png"), np.zeros((20, 30, 3), np.uint8))
    cv2.imwrite(str(d / "b.png"), np.zeros((22, 30, 3), np.uint8))
    return d


def _zero_frames(p):
    f = p / "zero.mkv"
    with av.open(str(f), "w") as out:
        s = out.add_stream("libx264", rate=24)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        out.start_encoding()
    return f


def _truncated(p):
    from movseg.io import write_video

    f = p / "full.mp4"
    write_video(f, moving_square_clip(T=20)[0], 24)
    data = f.read_bytes()
    (p / "cut.mp4").write_bytes(data[: len(data) // 2])
    return p / "cut.mp4"


def _corrupt(p):
    (p / "junk.mov").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    return p / "junk.mov"


def _tiny_frames(p):
    import cv2

    (p / "tiny").mkdir()
    for i in range(4):  # 10x8: too small for the optical flow's pyramid
        cv2.imwrite(str(p / "tiny" / f"{i:05d}.png"), np.random.default_rng(i).integers(0, 256, (8, 10, 3), dtype=np.uint8))
    return p / "tiny"


def _empty_dir(p):
    (p / "nothing").mkdir()
    (p / "nothing" / "readme.txt").write_text("no frames here")
    return p / "nothing"


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda p: p / "missing.mp4", "input not found"),
        (_empty_dir, "no jpg/png images"),
        (_corrupt, "cannot read video"),
        (_truncated, "truncated|corrupt"),
        (_zero_frames, "zero.mkv"),
        (_mixed_sizes, "must have the same size"),
        (_tiny_frames, "10x8.*at least 16"),
    ],
)
@pytest.mark.parametrize("pieces", [[], ["--segment-frames", "8"]], ids=["whole", "pieces"])
def test_segment_bad_input_one_line_no_output(tmp_path, capsys, make, message, pieces):
    src = make(tmp_path)
    code, out, err = run(capsys, "segment", src, "-o", tmp_path / "out", *pieces)
    assert code == 1
    lines = [ln for ln in err.splitlines() if ln.startswith("movseg: error")]
    assert len(lines) == 1 and re.search(message, lines[0]), err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", [["segment", "CLIP", "-o", "FILE/out"], ["track", "CLIP", "-o", "FILE/t.npz"],
                                     ["synth", "FILE/scenes", "--scenes", "1"]], ids=["segment", "track", "synth"])
def test_an_output_path_inside_a_file_fails_before_the_work(tmp_path, capsys, command):
    from movseg.io import write_video

    clip, blocker = tmp_path / "clip.mp4", tmp_path / "notes.txt"
    write_video(clip, moving_square_clip(T=6)[0], 24)
    blocker.write_text("a file where the output folder would go")
    argv = [str(a).replace("CLIP", str(clip)).replace("FILE", str(blocker)) for a in command]
    code, _, err = run(capsys, *argv)
    lines = [ln for ln in err.splitlines() if ln.startswith("movseg: error")]
    assert code == 1 and len(lines) == 1 and "is a file, not a folder" in lines[0], err
    assert "Traceback" not in err and "track " not in err  # refused before the tracker ran
    assert blocker.read_text().startswith("a file") and sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "notes.txt"]


def _no_such_device():
    """A device this machine's torch cannot use (a GPU machine has no 'mps'; a Mac has no 'cuda')."""
    import torch

    return "mps" if torch.cuda.is_available() else "cuda"


@pytest.mark.parametrize("device,message", [("foo", "unknown device 'foo'"), ("cuda:x", "unknown device"),
                                            (None, "--device (cuda|mps): torch")])
def test_segment_refuses_a_device_before_tracking(tmp_path, capsys, device, message):
    src = tmp_path / "clip.mp4"
    from movseg.io import write_video

    write_video(src, moving_square_clip(T=6)[0], 24)
    code, _, err = run(capsys, "segment", src, "-o", tmp_path / "out", "--device", device or _no_such_device())
    lines = [ln for ln in err.splitlines() if ln.startswith("movseg: error")]
    assert code == 1 and len(lines) == 1 and re.search(message, lines[0]), err
    assert "track " not in err and not (tmp_path / "out").exists()  # failed before the tracker ran


def _depth_weights(p):
    from dataclasses import replace

    from test_motion import TINY

    from movseg.motion import TrackTransformer, save_model

    save_model(TrackTransformer(replace(TINY, depth=True)), p / "depth.safetensors")
    return p / "depth.safetensors"


@pytest.mark.parametrize("make,message", [(lambda p: p / "nope.safetensors", "no track-transformer weights"),
                                          (_corrupt, "not a safetensors file"),
                                          (_depth_weights, "reads depth cues.*no depth backend")])
def test_segment_refuses_weights_it_cannot_run_before_tracking(tmp_path, capsys, make, message):
    src = tmp_path / "clip.mp4"
    from movseg.io import write_video

    write_video(src, moving_square_clip(T=6)[0], 24)
    code, _, err = run(capsys, "segment", src, "-o", tmp_path / "out", "--weights", make(tmp_path))
    lines = [ln for ln in err.splitlines() if ln.startswith("movseg: error")]
    assert code == 1 and len(lines) == 1 and re.search(message, lines[0]), err
    assert "track " not in err and not (tmp_path / "out").exists()  # failed before the tracker ran


def test_auto_device_is_one_torch_can_use():
    import torch

    from movseg.device import resolve_device

    got = resolve_device("auto")
    assert got == ("cuda" if torch.cuda.is_available() else got)
    assert resolve_device("cpu") == "cpu"
    torch.zeros(1, device=got)


@pytest.mark.parametrize("pieces", [[], ["--segment-frames", "12"]], ids=["whole", "pieces"])
def test_segment_draws_the_tracks_on_every_frame(tmp_path, capsys, pieces):
    frames, _ = moving_square_clip(T=20, speed=2)
    write_frames(tmp_path / "clip", frames)
    code, _, err = run(capsys, "segment", tmp_path / "clip", "-o", tmp_path / "out", "--vis-tracks", "-q", *pieces)
    assert code == 0, err
    with av.open(str(tmp_path / "out" / "clip" / "tracks.mp4")) as c:
        drawn = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(drawn) == 20 and drawn[0].shape == frames[0].shape
    r = json.loads((tmp_path / "out" / "clip" / "result.json").read_text())
    assert len(r.get("pieces", [[0, 19]])) == (2 if pieces else 1)
    from movseg.device import resolve_device

    assert r["config"]["movseg"]["device"] == "auto" and r["device"] == resolve_device("auto")  # what auto picked


def test_segment_vis_tracks_needs_tracks(tmp_path, capsys):
    frames, _ = moving_square_clip(T=4)
    write_frames(tmp_path / "clip", frames)
    code, _, err = run(capsys, "segment", tmp_path / "clip", "-o", tmp_path / "out", "--vis-tracks", "--method", "empty")
    assert code == 1 and "makes no tracks to draw" in err and not (tmp_path / "out").exists()


def test_segment_converts_odd_frame_formats(tmp_path, capsys):
    rgb = moving_square_clip(T=3)[0]
    d = tmp_path / "odd"
    d.mkdir()
    cv2.imwrite(str(d / "0.png"), cv2.cvtColor(rgb[0], cv2.COLOR_RGB2GRAY))
    cv2.imwrite(str(d / "1.png"), cv2.cvtColor(rgb[1], cv2.COLOR_RGB2BGRA))
    cv2.imwrite(str(d / "2.png"), rgb[2][:, :, ::-1].astype(np.uint16) * 257)
    (d / "Thumbs.db").write_bytes(b"x")
    code, _, err = run(capsys, "segment", d, "-o", tmp_path / "out", "--method", "empty")
    assert code == 0
    assert err.count("skipping 1 non-image") == 1
    assert len(list((tmp_path / "out" / "odd" / "masks").glob("*.png"))) == 3


def test_console_script_runs(tmp_path):
    r = subprocess.run([sys.executable, "-m", "movseg", "segment", str(tmp_path / "x"), "-o", str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.strip().startswith("movseg: error: input not found")


# ---- eval ----
def make_roots(tmp_path, n_seq=2, T=5):
    gt_root, pred_root = tmp_path / "gt", tmp_path / "pred"
    for s in range(n_seq):
        _, labels = moving_square_clip(T=T, seed=s)
        for t in range(T):
            (gt_root / f"seq{s}").mkdir(parents=True, exist_ok=True)
            (pred_root / f"seq{s}").mkdir(parents=True, exist_ok=True)
            write_mask(gt_root / f"seq{s}" / f"{t:05d}.png", labels[t] * 255)  # DAVIS-2016 style 0/255
            pred = np.roll(labels[t], s * 2, axis=1)
            write_mask(pred_root / f"seq{s}" / f"{t:05d}.png", pred)
    return pred_root, gt_root


def test_eval_json_and_csv(tmp_path, capsys):
    pred, gt = make_roots(tmp_path)
    code, out, err = run(capsys, "eval", "--pred", pred, "--gt", gt, "--json", tmp_path / "r.json", "--csv", tmp_path / "csv")
    assert code == 0, err
    assert "seq0" in out and "mean" in out
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["protocol"] == "mos"
    assert r["sequences"]["seq0"]["J"] == 1.0 and r["sequences"]["seq0"]["frames"] == 5
    assert 0 < r["sequences"]["seq1"]["J"] < 1
    assert r["mean"]["JF"] == pytest.approx((r["mean"]["J"] + r["mean"]["F"]) / 2)
    head = (tmp_path / "csv" / "global_results.csv").read_text().splitlines()[0]
    assert head == "J&F-Mean,J-Mean,J-Recall,J-Decay,F-Mean,F-Recall,F-Decay"
    assert (tmp_path / "csv" / "per-sequence_results.csv").read_text().splitlines()[1].startswith("seq0_1,")


def test_eval_sequence_selection_and_protocols(tmp_path, capsys):
    pred, gt = make_roots(tmp_path, n_seq=3)
    (tmp_path / "list.txt").write_text("seq2  # comment\nseq0\n")
    for proto in ["fine", "mos-i"]:
        code, _, err = run(capsys, "eval", "--pred", pred, "--gt", gt, "--protocol", proto,
                           "--sequences-file", tmp_path / "list.txt", "--json", tmp_path / f"{proto}.json", "-q")
        assert code == 0, err
        r = json.loads((tmp_path / f"{proto}.json").read_text())
        assert list(r["sequences"]) == ["seq2", "seq0"]
    assert json.loads((tmp_path / "mos-i.json").read_text())["sequences"]["seq0"]["mtIoU"] == 1.0


def test_eval_missing_frame_is_named(tmp_path, capsys):
    pred, gt = make_roots(tmp_path)
    (pred / "seq1" / "00003.png").unlink()
    code, _, err = run(capsys, "eval", "--pred", pred, "--gt", gt)
    assert code == 1 and "seq1/00003.png" in err
    code, _, err = run(capsys, "eval", "--pred", pred, "--gt", gt, "--missing-as-empty", "--json", tmp_path / "r.json")
    assert code == 0
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["sequences"]["seq1"]["J"] < 1


def test_eval_size_mismatch_is_an_error(tmp_path, capsys):
    pred, gt = make_roots(tmp_path, n_seq=1)
    write_mask(pred / "seq0" / "00000.png", np.zeros((10, 10), np.uint8))
    code, _, err = run(capsys, "eval", "--pred", pred, "--gt", gt)
    assert code == 1 and "resized" in err


# ---- bench ----
def test_bench_davis_on_a_tiny_davis_root(tmp_path, capsys):
    root = tmp_path / "davis"
    for s in range(2):
        frames, labels = moving_square_clip(T=6, seed=10 + s)
        write_frames(root / "JPEGImages" / "480p" / f"s{s}", frames, ext="jpg")
        (root / "Annotations" / "480p" / f"s{s}").mkdir(parents=True)
        for t in range(6):
            write_mask(root / "Annotations" / "480p" / f"s{s}" / f"{t:05d}.png", labels[t] * 255)
    code, out, err = run(capsys, "bench", "davis", "--root", root, "-o", tmp_path / "out", "--json",
                         tmp_path / "b.json", "--max-frames", "4")
    assert code == 0, err
    r = json.loads((tmp_path / "b.json").read_text())
    assert set(r["sequences"]) == {"s0", "s1"}
    assert r["sequences"]["s0"]["frames"] == 4 and r["sequences"]["s0"]["seconds"] > 0
    assert r["mean"]["JF"] > 0.5 and r["seconds_per_frame"] > 0 and r["peak_rss_mb"] > 10
    # one square per sequence, found as one object: per object scores as MOS does
    assert abs(r["fine"]["JF"] - r["mean"]["JF"]) < 1e-6 and "per object (fine)" in out
    assert r["sequences"]["s0"]["fine_JF"] == r["sequences"]["s0"]["JF"]
    assert (tmp_path / "out" / "s1" / "masks" / "00003.png").is_file()
    code, _, _ = run(capsys, "bench", "davis", "--root", root, "-o", tmp_path / "o2", "--json", tmp_path / "e.json", "--method", "empty")
    assert json.loads((tmp_path / "e.json").read_text())["mean"]["J"] == 0.0


def test_bench_davis_rejects_a_non_davis_root(tmp_path, capsys):
    code, _, err = run(capsys, "bench", "davis", "--root", tmp_path, "-o", tmp_path / "o", "--json", tmp_path / "b.json")
    assert code == 1 and "not a DAVIS root" in err


def test_default_preset_is_the_method_default():
    """`movseg segment` without --preset and `segment_video` from Python run the same settings."""
    from movseg.cli import _segment_config, build_parser
    from movseg.method import MethodConfig
    from movseg.pipeline import PRESETS

    args = build_parser().parse_args(["segment", "in.mp4", "-o", "out"])
    cfg = _segment_config(args).movseg
    default = MethodConfig()
    assert args.preset == "balanced"
    assert {k: getattr(cfg, k) for k in PRESETS["balanced"]} == {k: getattr(default, k) for k in PRESETS["balanced"]}
    fast = _segment_config(build_parser().parse_args(["segment", "in.mp4", "-o", "out", "--preset", "fast",
                                                      "--max-tracks", "99"])).movseg
    assert (fast.grid_size, fast.max_tracks) == (PRESETS["fast"]["grid_size"], 99)  # explicit options win
    quality = _segment_config(build_parser().parse_args(["segment", "in.mp4", "-o", "out", "--preset", "quality"])).movseg
    assert quality.segmenter_options == {"refine_scale": 1.0} and default.segmenter_options == {}
    assert quality.motion_windows == default.motion_windows == (None, 24)  # windows, and the whole video...
    assert quality.motion_lift == default.motion_lift == 1.2  # ... may lift them, capped
    assert not cfg.merge_fragments and not default.merge_fragments
    merged = _segment_config(build_parser().parse_args(["segment", "in.mp4", "-o", "out", "--merge-fragments"])).movseg
    assert merged.merge_fragments

    def pieces(*opts):
        c = _segment_config(build_parser().parse_args(["segment", "in.mp4", "-o", "out", *opts]))
        return c.segment_frames, c.segment_overlap

    assert pieces() == (150, 24) and pieces("--segment-frames", "40") == (40, 10)
    assert pieces("--segment-frames", "40", "--segment-overlap", "6") == (40, 6)


def test_segment_a_long_video_in_pieces_keeps_one_id_and_writes_every_frame(tmp_path, capsys):
    frames, labels = moving_square_clip(T=30, speed=2)
    write_frames(tmp_path / "clip", frames)
    code, _, err = run(capsys, "segment", tmp_path / "clip", "-o", tmp_path / "out", "--segment-frames", "12")
    assert code == 0, err
    assert "frames 9-20" in err  # the pieces share 3 frames
    folder = tmp_path / "out" / "clip"
    r = json.loads((folder / "result.json").read_text())
    assert r["pieces"] == [[0, 11], [9, 20], [18, 29]] and r["frames"] == 30
    assert r["piece_thresholds"] == [r["grouping_threshold"]] * 3  # one threshold, the weights', unless auto
    pred = np.stack([read_mask(folder / "masks" / f"{i:05d}.png") for i in range(30)])
    # the square's largest part keeps id 1 over the three pieces (on this toy clip smaller parts of it split off)
    assert r["objects"][0]["present"] == [[0, 29]] and all((pred[t] == 1).sum() > 200 for t in range(30))
    with av.open(str(folder / "overlay.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 30
    # the whole video at once finds the square no better
    code, _, _ = run(capsys, "segment", tmp_path / "clip", "-o", tmp_path / "whole", "--segment-frames", "0", "-q")
    whole = np.stack([read_mask(tmp_path / "whole" / "clip" / "masks" / f"{i:05d}.png") for i in range(30)])
    assert code == 0 and "pieces" not in json.loads((tmp_path / "whole" / "clip" / "result.json").read_text())

    def iou(p):
        return ((p > 0) & (labels > 0)).sum() / ((p > 0) | (labels > 0)).sum()

    assert iou(pred) > 0.6 and iou(pred) > iou(whole) - 0.05


@pytest.mark.parametrize("pieces", [[], ["--segment-frames", "12"]], ids=["whole", "pieces"])
def test_segment_lists_the_shot_changes(tmp_path, capsys, pieces):
    write_frames(tmp_path / "clip", two_shot_clip())
    code, out, err = run(capsys, "segment", tmp_path / "clip", "-o", tmp_path / "out", "--no-overlay", *pieces)
    assert code == 0, err
    r = json.loads((tmp_path / "out" / "clip" / "result.json").read_text())
    assert r["cuts"] == [8] and "(2 shots)" in out
    assert r.get("pieces", [[0, 15]]) == ([[0, 11], [4, 15]] if pieces else [[0, 15]])
    # the square of each shot is its own object: no id is present on both sides of the cut
    sides = [{a >= 8 for a, _ in obj["present"]} for obj in r["objects"]]
    assert all(len(s) == 1 for s in sides) and set.union(*sides) == {False, True}
    assert all(b < 8 or a >= 8 for obj in r["objects"] for a, b in obj["present"])


def test_segment_pieces_too_short_fail_in_one_line(tmp_path, capsys):
    frames, _ = moving_square_clip(T=20, speed=2)
    write_frames(tmp_path / "clip", frames)
    code, _, err = run(capsys, "segment", tmp_path / "clip", "-o", tmp_path / "out", "--segment-frames", "5")
    assert code == 1 and "at least 8" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
    code, _, err = run(capsys, "segment", tmp_path / "clip", "-o", tmp_path / "out", "--segment-frames", "12",
                       "--segment-overlap", "7")
    assert code == 1 and "half the segment length (6)" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_save_tracks_of_a_long_video_writes_one_file_per_piece(tmp_path, capsys):
    frames, _ = moving_square_clip(T=20, speed=2)
    write_frames(tmp_path / "clip", frames)
    code, _, err = run(capsys, "segment", tmp_path / "clip", "-o", tmp_path / "out", "--segment-frames", "12",
                       "--save-tracks", "--max-side", "64", "-q")
    assert code == 0, err
    folder = tmp_path / "out" / "clip"
    # the last piece starts early enough to be as long as the others
    assert sorted(p.name for p in (folder / "tracks").iterdir()) == ["00000-00011.npz", "00008-00019.npz"]
    assert json.loads((folder / "result.json").read_text())["pieces"] == [[0, 11], [8, 19]]
    z = np.load(folder / "tracks" / "00008-00019.npz")
    assert z["xy"].shape[1:] == (12, 2) and z["visible"].shape[1] == 12 and z["query_frame"].max() < 12
    assert z["xy"][..., 0].max() > 64  # in the input's pixels (128 wide), not the processing size
    # object ids are those of the masks, which hold over the whole video
    ids = set(np.unique(z["object_id"])) - {0}
    on = [read_mask(folder / "masks" / f"{i:05d}.png") for i in range(10, 20)]
    assert ids and ids <= set(np.unique(on))


def test_a_long_video_file_and_a_long_video_in_memory_are_segmented_in_pieces(tmp_path, capsys):
    from movseg.pipeline import SegmentConfig, segment_video
    from movseg.types import Video

    frames, labels = moving_square_clip(T=20, speed=2)
    with av.open(str(tmp_path / "clip.mp4"), "w") as out:
        s = out.add_stream("libx264", rate=24)
        s.width, s.height, s.pix_fmt = 128, 96, "yuv420p"
        for f in frames:
            out.mux(s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        out.mux(s.encode(None))
    code, _, err = run(capsys, "segment", tmp_path / "clip.mp4", "-o", tmp_path / "out", "--segment-frames", "8", "-q")
    assert code == 0, err
    r = json.loads((tmp_path / "out" / "clip" / "result.json").read_text())
    assert r["frames"] == 20 and r["pieces"] == [[0, 7], [6, 13], [12, 19]] and r["fps"] == 24
    assert len(list((tmp_path / "out" / "clip" / "masks").iterdir())) == 20
    # from Python, a Video in memory: the labels of every frame, at the input's size, and no tracks
    video = Video(frames, 24.0, [f"{i:05d}" for i in range(20)])
    result = segment_video(video, SegmentConfig(segment_frames=8, segment_overlap=2))
    seg = result.segmentation
    assert seg.labels.shape == labels.shape and seg.moving.shape == (seg.num_objects, 20) and result.tracks is None
    assert ((seg.labels > 0) & (labels > 0)).sum() / ((seg.labels > 0) | (labels > 0)).sum() > 0.5


def test_a_frame_that_cannot_be_read_in_a_later_piece_leaves_no_output(tmp_path, capsys):
    frames, _ = moving_square_clip(T=20, speed=2)
    write_frames(tmp_path / "clip", frames)
    (tmp_path / "clip" / "00015.png").write_bytes(b"not a png")  # found when the second piece is read
    code, _, err = run(capsys, "segment", tmp_path / "clip", "-o", tmp_path / "out", "--segment-frames", "8")
    assert code == 1 and "frames 0-7" in err and "cannot decode image" in err and "00015.png" in err
    assert not (tmp_path / "out").exists()
