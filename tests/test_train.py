"""Training end to end on a few rendered scenes with a tiny model: logs, checkpoints, resume, CLI errors."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict

import numpy as np
import pytest
import torch

from movseg.cli import main
from movseg.errors import MovsegError
from movseg.motion import load_model
from movseg.train import load_config
from movseg.train.trainer import DAVIS_HOLDOUT, holdout_of, train


def tiny_config(tmp_path, steps: int) -> dict:
    from test_motion import TINY

    return {"out": str(tmp_path / "run"), "cache": str(tmp_path / "cache"), "synth_scenes": 2, "val_scenes": 1,
            "steps": steps, "val_every": 2, "batch": 2, "min_tracks": 16, "max_tracks": 32, "min_frames": 6,
            "max_frames": 10, "time_offset": 8, "workers": 1, "device": "cpu", "model": asdict(TINY)}


def test_train_writes_checkpoints_and_resumes(tmp_path):
    cfg_path = tmp_path / "cfg.json"
    cfg_path.write_text(json.dumps(tiny_config(tmp_path, 4)))
    assert main(["train", "--config", str(cfg_path), "--quiet"]) == 0
    run = tmp_path / "run"
    for f in ("best.safetensors", "last.safetensors", "last.state.safetensors", "log.csv", "config.json", "best.json"):
        assert (run / f).is_file(), f
    assert len(list((tmp_path / "cache" / "train-0").glob("*.npz"))) == 2
    sample = np.load(tmp_path / "cache" / "train-0" / "00000.npz")
    assert sample["points"].shape[:2] == sample["valid"].shape and set(np.unique(sample["label"])) <= {0, 1}
    load_model(run / "best.safetensors")
    assert main(["train", "--config", str(cfg_path), "--resume", str(run), "--steps", "6", "--quiet"]) == 0
    rows = list(csv.DictReader(open(run / "log.csv")))
    assert [int(r["step"]) for r in rows] == [2, 4, 6]
    assert all(0 <= float(r["val_f1"]) <= 1 for r in rows)


def test_bad_training_configs_say_what_to_do(tmp_path, capsys):
    with pytest.raises(MovsegError, match="unknown training config fields"):
        load_config(None, nonsense=1)
    with pytest.raises(MovsegError, match="unknown synth_preset 'nope': choose one of train, train-detail"):
        load_config(None, synth_preset="nope")
    assert main(["train", "--config", str(tmp_path / "nope.json")]) != 0
    assert "not found" in capsys.readouterr().err
    import importlib.util

    bad = [("broken.json", "{steps: 3", "not valid JSON"), ("list.json", "[1, 2]", "mapping")]
    if importlib.util.find_spec("yaml"):  # PyYAML comes with the dev extra's transformers
        bad.append(("broken.yaml", "steps: [1\n", "not valid YAML"))
    for name, text, message in bad:
        (tmp_path / name).write_text(text)
        assert main(["train", "--config", str(tmp_path / name)]) == 1
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    cfg = tiny_config(tmp_path, 2)
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    assert main(["train", "--config", str(tmp_path / "c.json"), "--resume", str(tmp_path / "nowhere"), "-q"]) != 0
    assert "cannot resume" in capsys.readouterr().err


def test_roc_auc_matches_the_pairwise_definition():
    from movseg.train.trainer import roc_auc

    rng = np.random.default_rng(0)
    score = np.round(rng.random(200), 1)  # many ties
    label = rng.random(200) < 0.3 + 0.4 * score
    pos, neg = score[label], score[~label]
    pairs = (pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean()
    assert abs(roc_auc(score, label) - pairs) < 1e-12
    assert np.isnan(roc_auc(score, np.zeros(200, bool)))


def test_strided_davis_samples_are_every_sth_frame_tracked_anew(tmp_path):
    from conftest import moving_square_clip, write_frames
    from movseg.io.masks import write_mask
    from movseg.train.data import load_sample, prepare_davis

    root = tmp_path / "davis"
    frames, labels = moving_square_clip(T=7, seed=3)
    write_frames(root / "JPEGImages" / "480p" / "sq", frames, ext="png")
    (root / "Annotations" / "480p" / "sq").mkdir(parents=True)
    for t in range(7):
        write_mask(root / "Annotations" / "480p" / "sq" / f"{t:05d}.png", labels[t] * 255)
    paths = prepare_davis(tmp_path / "cache", root, ["sq"], progress=False, strides=(1, 2))
    assert [p.name for p in paths] == ["sq.npz", "sq-s2o0.npz", "sq-s2o1.npz"]
    full, even, odd = (load_sample(p) for p in paths)
    assert full["valid"].shape[1] == 7 and even["valid"].shape[1] == 4 and odd["valid"].shape[1] == 3
    for s in (full, even, odd):  # the square moves: its tracks are labelled moving, and some exist
        assert 0 < s["label"].sum() < len(s["label"])
    def du(s):  # median |du| (channel 2) over the valid points of the square's tracks
        on = s["label"] == 1
        return np.median(np.abs(s["points"][on][..., 2][s["valid"][on]].astype(np.float32)))

    assert 1.6 < du(even) / du(full) < 2.4  # twice the motion per frame
    # a sample cached with other cue settings (or before they were recorded) is refused in one line
    stale = tmp_path / "cache" / "davis" / "old.npz"
    np.savez(stale, **{k: v for k, v in full.items()})
    with pytest.raises(MovsegError, match="other cue settings"):
        load_sample(stale)
    # the cache records the tracker settings that made it: other settings would mix two trackers' tracks
    with pytest.raises(MovsegError, match="give another cache folder"):
        prepare_davis(tmp_path / "cache", root, ["sq"], progress=False, options={"link": 0, "finest_scale": 2})
    (tmp_path / "cache" / "tracker.json").unlink()  # as a cache from before the record
    with pytest.raises(MovsegError, match="no record of the tracker settings"):
        prepare_davis(tmp_path / "cache", root, ["sq"], progress=False)


def test_training_can_start_from_given_weights(tmp_path):
    from safetensors.torch import load_file

    first = tiny_config(tmp_path, 2)
    assert main(["train", "--config", _write(tmp_path / "a.json", first), "-q"]) == 0
    start = tmp_path / "run" / "last.safetensors"
    # with lr 0 the weights cannot move, so the fine-tuned run must end exactly where it started
    second = {**tiny_config(tmp_path, 2), "out": str(tmp_path / "tuned"), "init": str(start), "lr": 0.0}
    assert main(["train", "--config", _write(tmp_path / "b.json", second), "-q"]) == 0
    a, b = load_file(str(start)), load_file(str(tmp_path / "tuned" / "last.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    other = {**second, "out": str(tmp_path / "bad"), "model": {**second["model"], "dim": 2 * second["model"]["dim"]}}
    with pytest.raises(MovsegError, match="another model config"):
        train(load_config(_write(tmp_path / "c.json", other)), progress=False)


def _write(path, cfg: dict) -> str:
    path.write_text(json.dumps(cfg))
    return str(path)


def test_the_sequences_weights_did_not_train_on_come_from_their_own_record(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    weights = run / "best.safetensors"
    assert holdout_of(weights) == set(DAVIS_HOLDOUT)  # no record: the shipped run's five
    (run / "config.json").write_text(json.dumps({"davis_holdout": ["bear"]}))
    assert holdout_of(weights) == {"bear"}  # a run folder's config
    (run / "best.json").write_text(json.dumps({"data": {"davis_holdout": []}}))
    assert holdout_of(weights) == set()  # a shipped record wins: trained on every sequence


def test_bench_motion_also_scores_the_transformer_at_its_weights_threshold(tmp_path):
    from test_motion import TINY

    from movseg.motion import TrackTransformer, save_model
    from movseg.train.bench import bench_motion, format_motion_table

    torch.manual_seed(0)
    weights = tmp_path / "w.safetensors"
    save_model(TrackTransformer(TINY), weights, threshold=0.6)
    result = bench_motion(tmp_path / "cache", weights, test_scenes=1, workers=1, progress=False)
    scores = result["synth-test"]
    assert set(scores) == {"transformer", "transformer@0.6", "geometric"}
    half, own = scores["transformer"], scores["transformer@0.6"]
    # one set of P, two decision points: the same ranking, and a higher threshold recalls no more
    assert own["auc"] == half["auc"] and own["tracks"] == half["tracks"] > 0
    assert own["recall"] <= half["recall"]
    assert "transformer@0.6" in format_motion_table(result)


def test_a_model_with_depth_cues_trains_on_the_rendered_depth(tmp_path):
    from dataclasses import replace

    from test_motion import TINY

    from movseg.motion import TrackTransformer, save_model
    from movseg.train.bench import bench_motion
    from movseg.train.data import synth_sample

    cfg = tiny_config(tmp_path, 2) | {"synth_scenes": 1, "model": asdict(replace(TINY, depth=True))}
    train(load_config(None, **cfg), progress=False)
    assert load_model(tmp_path / "run" / "best.safetensors").config.depth
    deep = np.load(tmp_path / "cache" / "train-0-depth" / "00000.npz")
    plain = synth_sample(0, 0)
    # the same tracks and cues, plus the log of inverse depth (over the frame's median) and its change
    assert deep["points"].shape[-1] == plain["points"].shape[-1] + 2
    assert np.array_equal(deep["points"][..., :-2], plain["points"]) and np.array_equal(deep["valid"], plain["valid"])
    d, dd = (deep["points"][..., c].astype(np.float32)[deep["valid"]] for c in (-2, -1))
    assert np.isfinite(d).all() and d.std() > 0.1 and np.median(np.abs(dd)) < 0.1 * np.median(np.abs(d))
    # DAVIS has no depth maps: such a model cannot train on it, and is scored on rendered scenes only
    with pytest.raises(MovsegError, match="trains on rendered scenes only"):
        load_config(None, davis_root="../shared/data/davis2016", model={"depth": True})
    weights = tmp_path / "w.safetensors"
    save_model(TrackTransformer(replace(TINY, depth=True)), weights)
    result = bench_motion(tmp_path / "cache", weights, test_scenes=1, davis_root=tmp_path / "no-davis", workers=1,
                          progress=False)
    assert set(result) == {"synth-test"} and result["synth-test"]["transformer"]["tracks"] > 0


def test_samples_on_the_renderers_exact_tracks(tmp_path):
    from movseg.synth.generate import generate_scene
    from movseg.train.data import prepare_synth, synth_sample

    scene = generate_scene(0, 0, "train")
    ours, exact = synth_sample(0, 0), synth_sample(0, 0, exact=True)
    assert np.array_equal(exact["label"], ours["label"])  # the same queries, labelled alike
    assert np.array_equal(exact["valid"], scene.tracks["visible"])  # every rendered point that is seen
    h, w = scene.frames.shape[1:3]
    u = exact["points"][..., 0].astype(np.float32)[exact["valid"]]
    assert np.allclose(u, (scene.tracks["xy"][..., 0] / w * 2 - 1)[exact["valid"]], atol=2e-3)
    assert (exact["valid"].sum() > ours["valid"].sum())  # our tracker loses points; the renderer does not
    path, = prepare_synth(tmp_path, 0, 1, exact=True, progress=False)
    assert path.parent.name == "train-0-exact"
