"""The motion stage: cues, the track transformer (tiny random models), checkpoints, training."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import moving_square_clip
from movseg.errors import MovsegError
from movseg.motion import (DEFAULT_WEIGHTS, CueConfig, MotionModelConfig, TrackCues, TrackTransformer,
                           geometric_score, load_model, predict_dynamic, predict_dynamic_lifted, predict_dynamic_max,
                           save_model, track_cues)
from movseg.motion.cues import POINT_CHANNELS, geometric_residuals
from movseg.motion.predict import LIFT_FILL
from movseg.types import Tracks, Video

TINY = MotionModelConfig(dim=16, enc_layers=1, enc_heads=2, enc_ff=16, dec_layers=1, dec_heads=2, dec_ff=32, freqs=2)


def square_tracks(T: int = 8):
    """Exact tracks of the moving-square clip: a grid on the static background and on the square."""
    frames, labels = moving_square_clip(T=T)
    ys, xs = np.mgrid[8:96:12, 8:128:12]
    bg = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)
    bg = bg[labels[0][bg[:, 1].astype(int), bg[:, 0].astype(int)] == 0]
    fy, fx = np.mgrid[36:60:6, 12:36:6]
    fg0 = np.stack([fx.ravel(), fy.ravel()], 1).astype(np.float32)
    xy = np.concatenate([np.repeat(bg[:, None], T, 1),
                         fg0[:, None] + np.stack([3.0 * np.arange(T), np.zeros(T)], 1)[None]]).astype(np.float32)
    n = len(xy)
    tracks = Tracks(xy, np.ones((n, T), bool), np.ones((n, T), np.float32), np.zeros(n, np.int32))
    video = Video(frames, 24.0, [f"{i:05d}" for i in range(T)])
    return video, tracks, np.r_[np.zeros(len(bg)), np.ones(len(fg0))].astype(bool)


def test_cues_shapes_and_geometric_residual_separates_the_moving_square():
    video, tracks, moving = square_tracks()
    cues = track_cues(video, tracks)
    n, t = tracks.visible.shape
    assert cues.points.shape == (n, t, len(POINT_CHANNELS)) and cues.appearance.shape == (n, 7)
    assert cues.valid.all()
    score = geometric_score(cues)
    assert score[moving].min() > score[~moving].max()


def test_invalid_points_are_zero_and_cannot_change_the_cues_or_the_output():
    video, tracks, _ = square_tracks()
    tracks.visible[3, 4] = False
    tracks.confidence[5, 2] = 0.01  # below min_confidence: treated as invisible
    a = track_cues(video, tracks)
    assert not a.valid[3, 4] and not a.valid[5, 2] and (a.points[3, 4] == 0).all()
    moved = Tracks(tracks.xy.copy(), tracks.visible, tracks.confidence, tracks.query_frame)
    moved.xy[3, 4] += 40.0
    moved.xy[5, 2] -= 25.0
    b = track_cues(video, moved)
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_array_equal(a.appearance, b.appearance)
    torch.manual_seed(0)
    model = TrackTransformer(TINY).eval()
    pts = torch.from_numpy(a.points)[None]
    garbage = pts.clone()
    garbage[0, 3, 4] = 7.0  # whatever an invalid point carries, the model ignores it
    val, app = torch.from_numpy(a.valid)[None], torch.from_numpy(a.appearance)[None]
    with torch.no_grad():
        torch.testing.assert_close(model(pts, val, app), model(garbage, val, app))


@pytest.mark.parametrize("variant", [{}, {"st_attention": False}, {"msde": False}, {"appearance_dim": 0},
                                     {"geometric": False}, {"freqs": 0}, {"depth": True}])
def test_model_shapes_and_permutation_equivariance(variant):
    cfg = replace(TINY, **variant)
    torch.manual_seed(0)
    model = TrackTransformer(cfg).eval()
    B, N, T = 2, 11, 6
    pts = torch.randn(B, N, T, cfg.point_channels)
    val = torch.rand(B, N, T) > 0.3
    val[:, 0] = False  # a track with no valid point at all is still well defined
    app = torch.randn(B, N, cfg.appearance_dim)
    with torch.no_grad():
        out = model(pts, val, app)
        perm = torch.randperm(N)
        out_p = model(pts[:, perm], val[:, perm], app[:, perm])
    assert out.shape == (B, N) and torch.isfinite(out).all()
    torch.testing.assert_close(out[:, perm], out_p, atol=1e-5, rtol=1e-4)


def test_padding_tracks_do_not_change_real_tracks():
    torch.manual_seed(0)
    model = TrackTransformer(TINY).eval()
    pts, val, app = torch.randn(1, 5, 4, 9), torch.ones(1, 5, 4, dtype=torch.bool), torch.randn(1, 5, 7)
    pad = torch.cat([pts, torch.randn(1, 3, 4, 9)], 1), torch.cat([val, val[:, :3]], 1), torch.cat([app, app[:, :3]], 1)
    tv = torch.tensor([[True] * 5 + [False] * 3])
    with torch.no_grad():
        torch.testing.assert_close(model(pts, val, app), model(*pad, tv)[:, :5], atol=1e-5, rtol=1e-4)


def test_save_load_round_trip_and_config_mismatch(tmp_path):
    torch.manual_seed(1)
    model = TrackTransformer(TINY).eval()
    path = tmp_path / "m.safetensors"
    save_model(model, path)
    loaded = load_model(path, config=TINY)
    x = (torch.randn(1, 4, 5, 9), torch.ones(1, 4, 5, dtype=torch.bool), torch.randn(1, 4, 7))
    with torch.no_grad():
        torch.testing.assert_close(model(*x), loaded(*x))
    with pytest.raises(MovsegError, match="dim: wanted 32, file has 16"):
        load_model(path, config=replace(TINY, dim=32))
    (tmp_path / "bad.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(MovsegError, match="not a safetensors file"):
        load_model(tmp_path / "bad.safetensors")
    with pytest.raises(MovsegError, match="no track-transformer weights"):
        load_model(tmp_path / "missing.safetensors")


def test_the_grouping_threshold_travels_with_the_weights(tmp_path):
    from safetensors.torch import save_file

    model = TrackTransformer(TINY).eval()
    save_model(model, tmp_path / "none.safetensors")
    assert load_model(tmp_path / "none.safetensors").threshold is None
    save_model(model, tmp_path / "t.safetensors", threshold=0.55)
    loaded = load_model(tmp_path / "t.safetensors")
    assert loaded.threshold == 0.55
    save_model(loaded, tmp_path / "again.safetensors")  # a loaded model keeps its threshold when saved
    assert load_model(tmp_path / "again.safetensors").threshold == 0.55
    assert loaded.small_min_score is None  # the masks stage's small-object gate travels the same way
    loaded.small_min_score = 0.8
    save_model(loaded, tmp_path / "gate.safetensors", threshold=0.6)
    gated = load_model(tmp_path / "gate.safetensors")
    assert (gated.threshold, gated.small_min_score) == (0.6, 0.8)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    for key, bad, message in (("threshold", "high", "grouping threshold 'high' is not a number"),
                              ("threshold", "1.5", "outside"), ("small_min_score", "0", "small-object score 0.0 is outside")):
        save_file(state, str(tmp_path / "bad.safetensors"), metadata={
            "format": "movseg-track-transformer", "config": json.dumps(TINY.to_dict()), key: bad})
        with pytest.raises(MovsegError, match=message):
            load_model(tmp_path / "bad.safetensors")


def test_saving_the_same_weights_twice_gives_the_same_bytes(tmp_path):
    model = TrackTransformer(TINY).eval()
    model.threshold, model.small_min_score = 0.6, 0.8  # several metadata keys, which safetensors orders at random
    files = [tmp_path / f"{i}.safetensors" for i in range(5)]
    for f in files:
        save_model(model, f)
    assert len({f.read_bytes() for f in files}) == 1
    loaded = load_model(files[0])
    assert (loaded.threshold, loaded.small_min_score) == (0.6, 0.8)
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)


def test_tiny_model_overfits_a_tiny_batch():
    video, tracks, moving = square_tracks()
    cues = track_cues(video, tracks)
    torch.manual_seed(0)
    model = TrackTransformer(TINY)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    pts, val, app = (torch.from_numpy(a)[None] for a in (cues.points, cues.valid, cues.appearance))
    lab = torch.from_numpy(moving).float()[None]
    losses = []
    for _ in range(60):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(pts, val, app), lab)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.3 * losses[0]
    prob = predict_dynamic(model.eval(), cues, chunk=16)  # chunked inference on a trained model
    assert (prob[moving] > 0.5).mean() > 0.9 and (prob[~moving] < 0.5).mean() > 0.9


def test_shipped_weights_load_and_are_documented():
    assert DEFAULT_WEIGHTS.stat().st_size < 20e6
    model = load_model()
    info = json.loads(DEFAULT_WEIGHTS.with_suffix(".json").read_text())
    assert info["model"] == model.config.to_dict()
    assert "movseg train" in info["command"] and "validation" in info
    # the training record reads the same on any machine: no run or cache folder, no absolute path
    paths = [v for v in info["training"].values() if isinstance(v, str) and ("/" in v or "\\" in v)]
    assert paths and not any(Path(v).is_absolute() for v in paths)
    assert "out" not in info["training"] and "cache" not in info["training"]


def test_shipped_model_finds_the_moving_square():
    video, tracks, moving = square_tracks(T=12)
    prob = predict_dynamic(load_model(), track_cues(video, tracks))
    assert prob[moving].mean() > 0.5 > prob[~moving].mean()


def test_chunked_prediction_covers_every_track_once():
    torch.manual_seed(0)
    model = TrackTransformer(TINY).eval()
    rng = np.random.default_rng(0)
    cues = TrackCues(rng.normal(size=(50, 5, 9)).astype(np.float32), rng.random((50, 5)) > 0.2,
                     rng.normal(size=(50, 7)).astype(np.float32))
    p = predict_dynamic(model, cues, chunk=16)
    seen = cues.valid.any(1)
    assert p.shape == (50,) and ((p[seen] > 0) & (p[seen] < 1)).all() and (p[~seen] == 0).all()
    assert len(predict_dynamic(model, cues.subset(slice(0, 0)))) == 0
    # chunks run side by side on torch's threads: the same scores as one by one, and the thread count comes back
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        serial = predict_dynamic(model, cues, chunk=16)
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_allclose(p, serial, atol=1e-6)
    assert torch.get_num_threads() == threads


def test_time_offset_shifts_the_frame_indices_the_model_sees():
    from movseg.motion.model import _time_embedding

    late = _time_embedding(5, 3, 16, "cpu", torch.float32)  # frames 5, 6, 7
    torch.testing.assert_close(late, _time_embedding(0, 8, 16, "cpu", torch.float32)[5:])
    torch.manual_seed(0)
    model = TrackTransformer(TINY).eval()
    x = torch.randn(1, 6, 4, 9), torch.ones(1, 6, 4, dtype=torch.bool), torch.randn(1, 6, 7)
    with torch.no_grad():
        assert not torch.allclose(model(*x), model(*x, t0=20))


def test_long_videos_are_scored_in_windows_of_the_training_length():
    torch.manual_seed(0)
    model = TrackTransformer(TINY).eval()
    rng = np.random.default_rng(1)
    n, t = 30, 48
    valid = np.ones((n, t), bool)
    valid[:10, 24:] = False  # first window only
    valid[10:20, :24] = False  # second window only
    valid[20:25, 30:] = False  # 24 valid points in the first window, 6 in the second
    valid[29] = False  # never valid
    cues = TrackCues(rng.normal(size=(n, t, 9)).astype(np.float32), valid, rng.normal(size=(n, 7)).astype(np.float32))
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731

    def alone(rows, frames):  # the tracks valid in one window, scored as a video of that window only
        return logit(predict_dynamic(model, cues.subset(rows).frames(frames), window=None).astype(np.float64))

    first, second = alone(np.r_[0:10, 20:29], slice(0, 24)), alone(np.r_[10:29], slice(24, 48))
    got = logit(predict_dynamic(model, cues, window=24)[:29].astype(np.float64))
    np.testing.assert_allclose(got[:10], first[:10], atol=1e-4)
    np.testing.assert_allclose(got[10:20], second[:10], atol=1e-4)
    np.testing.assert_allclose(got[20:25], (24 * first[10:15] + 6 * second[10:15]) / 30, atol=1e-4)
    np.testing.assert_allclose(got[25:29], (first[15:] + second[15:]) / 2, atol=1e-4)
    assert predict_dynamic(model, cues)[29] == 0
    short = cues.frames(slice(0, 20))  # no longer than a window: one pass, as with window=None
    np.testing.assert_array_equal(predict_dynamic(model, short), predict_dynamic(model, short, window=None))


def test_the_larger_of_two_scorings_is_taken_per_track_and_a_window_as_long_as_the_video_is_not_scored_twice():
    torch.manual_seed(0)
    model = TrackTransformer(TINY).eval()
    rng = np.random.default_rng(2)
    n, t = 40, 40
    cues = TrackCues(rng.normal(size=(n, t, 9)).astype(np.float32), rng.random((n, t)) < 0.8,
                     rng.normal(size=(n, 7)).astype(np.float32))
    whole, windows = predict_dynamic(model, cues, window=None), predict_dynamic(model, cues, window=24)
    both = predict_dynamic_max(model, cues, (None, 24))
    np.testing.assert_array_equal(both, np.maximum(whole, windows))
    assert (both > whole).any() and (both > windows).any()  # each scoring wins somewhere
    np.testing.assert_array_equal(predict_dynamic_max(model, cues, (None,)), whole)
    short, calls = cues.frames(slice(0, 20)), []
    model.register_forward_hook(lambda *_: calls.append(1))
    once = predict_dynamic(model, short, window=None)
    np.testing.assert_array_equal(predict_dynamic_max(model, short, (None, 24)), once)
    assert len(calls) == 2  # a 24-frame window of a 20-frame video is the whole video: scored once, not twice


def test_a_capped_lift_lets_the_whole_video_raise_a_windowed_logit_by_at_most_the_lift_and_never_lower_it():
    torch.manual_seed(0)
    model = TrackTransformer(TINY).eval()
    rng = np.random.default_rng(3)
    n, t = 60, 40
    valid = rng.random((n, t)) < 0.8
    valid[0] = False  # never valid: P 0 whatever the rule
    cues = TrackCues(rng.normal(size=(n, t, 9)).astype(np.float32) * 3, valid, rng.normal(size=(n, 7)).astype(np.float32))
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    whole, windows = predict_dynamic(model, cues, window=None), predict_dynamic(model, cues, window=24)
    got = predict_dynamic_max(model, cues, (None, 24), lift=0.02)
    gap = logit(whole[1:]) - logit(windows[1:])
    assert (gap > 0.02).any() and (gap < 0).any()  # both sides of the cap are exercised
    np.testing.assert_allclose(logit(got[1:]), logit(windows[1:]) + np.clip(gap, 0, 0.02), atol=1e-5)
    assert got[0] == 0
    assert (got >= windows).all() and (got <= np.maximum(whole, windows)).all()
    np.testing.assert_array_equal(predict_dynamic_max(model, cues, (None, 24), lift=None), np.maximum(whole, windows))
    np.testing.assert_allclose(predict_dynamic_max(model, cues, (None, 24), lift=0.0), windows, atol=1e-6)
    np.testing.assert_array_equal(predict_dynamic_max(model, cues, (None,), lift=0.02), whole)  # one scoring: its P


def test_with_a_threshold_the_whole_video_scores_and_lifts_only_the_tracks_the_lift_can_carry_over_it():
    torch.manual_seed(0)
    model = TrackTransformer(TINY).eval()
    rng = np.random.default_rng(4)
    n, t = 400, 40
    cues = TrackCues(rng.normal(size=(n, t, 9)).astype(np.float32) * 3, rng.random((n, t)) < 0.8,
                     rng.normal(size=(n, 7)).astype(np.float32))
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    windows = predict_dynamic(model, cues, window=24)
    thr = float(np.quantile(windows, 0.9))  # the random model's P are close together: a band of about 10 %
    lift = float(logit(thr) - logit(np.quantile(windows, 0.8)))
    band = (windows < thr) & (logit(windows) >= logit(thr) - lift)
    assert 0 < band.sum() < n / 8 and (windows >= thr).any() and (logit(windows) < logit(thr) - lift).any()
    seen = []
    real = predict_dynamic

    def spy(model, cues, chunk=256, seed=0, window=24):
        seen.append((window, len(cues.valid)))
        return real(model, cues, chunk, seed, window)

    import movseg.motion.predict as predict

    predict.predict_dynamic = spy
    try:
        got = predict_dynamic_max(model, cues, (None, 24), lift=lift, threshold=thr)
    finally:
        predict.predict_dynamic = real
    assert seen == [(24, n), (None, (1 + LIFT_FILL) * band.sum())]  # the band and its company, not every track
    np.testing.assert_array_equal(got[~band], windows[~band])  # outside the band: the windowed P
    assert (got[band] >= windows[band]).all() and (logit(got[band]) <= logit(windows[band]) + lift + 1e-5).all()
    full = predict_dynamic_max(model, cues, (None, 24), lift=lift)  # every track lifted by a full pass
    assert ((got > thr) == (full > thr)).mean() > 0.97  # the band's company changes few decisions
    lifted, before = predict_dynamic_lifted(model, cues, (None, 24), lift=lift, threshold=thr)
    np.testing.assert_array_equal(lifted, got)
    np.testing.assert_array_equal(before, windows)  # the P before the lift is the windows'
    # a range the threshold will be chosen in (--threshold auto): below its top and liftable over its bottom
    lo, hi = float(np.quantile(windows, 0.85)), float(np.quantile(windows, 0.95))
    span = (windows < hi) & (logit(windows) >= logit(lo) - lift)
    ranged = predict_dynamic_max(model, cues, (None, 24), lift=lift, threshold=(lo, hi))
    np.testing.assert_array_equal(ranged[~span], windows[~span])
    assert (ranged[span] > windows[span]).mean() > 0.5 and span.sum() > band.sum()


def test_blocks_run_on_valid_tokens_only_with_the_same_result():
    from movseg.motion.model import Block, valid_only

    torch.manual_seed(0)
    block = Block(16, 2, 16).eval()
    x = torch.randn(40, 12, 16)
    valid = torch.rand(40, 12) < torch.linspace(0.05, 0.95, 40)[:, None]  # rows from sparse to dense
    valid[5] = False  # a row without a valid token
    with torch.no_grad():
        got = valid_only(block, x, valid)
        want = block(x, valid)
    torch.testing.assert_close(got[valid], want[valid], atol=1e-5, rtol=1e-4)
    assert torch.equal(got[~valid], x[~valid])  # invalid tokens pass through untouched
    model = TrackTransformer(TINY)  # inference (valid tokens only) = training mode (every token)
    pts, val, app = torch.randn(2, 9, 7, 9), torch.rand(2, 9, 7) > 0.5, torch.randn(2, 9, 7)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(pts, val, app), model.train()(pts, val, app), atol=1e-5, rtol=1e-4)


def test_cue_config_gap_clipped_on_short_videos():
    video, tracks, _ = square_tracks(T=2)
    cues = track_cues(video, tracks, CueConfig(gap=8))
    assert cues.points.shape[1] == 2 and np.isfinite(cues.points).all()


def test_the_camera_fit_is_not_outvoted_by_a_dense_object_the_camera_follows():
    """A camera following an object: the background moves 4 px/frame in x, the object stays put and holds
    900 of the 1,500 points in a small box. Points spread over a grid give the camera's motion, so the
    background's residuals are near 0 and the object's large; a uniform draw fits the object instead."""
    rng = np.random.default_rng(0)
    T, h, w = 6, 240, 427
    obj = np.repeat(rng.uniform([180, 100], [230, 140], (900, 1, 2)), T, axis=1)
    bg = rng.uniform([0, 0], [w, h], (600, 1, 2)) + np.arange(T)[None, :, None] * np.array([4.0, 0.0])
    xy = np.concatenate([obj, bg]).astype(np.float32)  # (N, T, 2)
    valid = np.ones(xy.shape[:2], bool)
    res = geometric_residuals(xy, valid, (h, w), CueConfig())[:, 1:, 0]  # res_h1
    assert np.median(res[900:]) < 0.1 < 1.0 < np.median(res[:900])
    res = geometric_residuals(xy, valid, (h, w), CueConfig(fit_grid=0))[:, 1:, 0]
    assert np.median(res[:900]) < 0.1 < 1.0 < np.median(res[900:])


def _ship_tool():
    import importlib.util

    spec = importlib.util.spec_from_file_location("ship_weights", Path(__file__).parent.parent / "tools" / "ship_weights.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tiny_run(folder: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    folder.mkdir()
    save_model(TrackTransformer(TINY), folder / "best.safetensors")
    (folder / "config.json").write_text(json.dumps({"out": str(folder), "cache": "/tmp/cache", "synth_seed": 0,
                                                    "synth_scenes": 4, "val_seed": 1, "val_scenes": 2,
                                                    "davis_root": None, "davis_holdout": []}))
    (folder / "best.json").write_text(json.dumps({"step": 10, "f1": 0.5}))
    return folder


def test_shipping_weights_keeps_their_threshold_and_never_drops_another_silently(tmp_path):
    ship = _ship_tool().ship
    run_a, run_b = _tiny_run(tmp_path / "a", 0), _tiny_run(tmp_path / "b", 1)
    dest = tmp_path / "weights" / "track_transformer.safetensors"
    info = ship(run_a, "movseg train a", dest)
    assert load_model(dest).threshold is None and "grouping_threshold" not in info
    assert "out" not in info["training"] and "cache" not in info["training"]
    # the threshold is chosen afterwards, as choose_threshold.py --write does
    save_model(load_model(dest), dest, 0.65)
    record = json.loads(dest.with_suffix(".json").read_text())
    dest.with_suffix(".json").write_text(json.dumps({**record, "grouping_threshold": 0.65,
                                                     "threshold_selection": {"command": "choose"}}))
    _ship_tool().set_small_min_score(dest, 0.8, "chosen on validation", "python tools/ship_weights.py ...")
    info = ship(run_a, "movseg train a", dest)  # the same weights again: the threshold and the gate stay
    assert load_model(dest).threshold == 0.65 and load_model(dest).small_min_score == 0.8
    assert info["small_min_score"] == 0.8 and info["small_min_score_selection"]["rule"] == "chosen on validation"
    assert info["grouping_threshold"] == 0.65 and info["threshold_selection"] == {"command": "choose"}
    with pytest.raises(SystemExit, match="--drop-threshold"):  # other weights: refused...
        ship(run_b, "movseg train b", dest)
    assert load_model(dest).threshold == 0.65
    info = ship(run_b, "movseg train b", dest, drop_threshold=True)  # ...unless asked
    assert load_model(dest).threshold is None and "grouping_threshold" not in info and info["command"] == "movseg train b"
    assert load_model(dest).small_min_score is None and "small_min_score" not in info
