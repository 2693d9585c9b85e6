"""Training of the track transformer: ``movseg train [--config FILE] [--device] [--resume CKPT]``.

Samples come from :mod:`movseg.train.data` (our tracker's tracks on rendered
scenes, optionally DAVIS dev sequences). Each batch draws videos, one random
temporal window and one random subset of tracks per video (same sizes across
the batch), so the model sees variable numbers of tracks and frames.
Weighted BCE (positives weighted by the square root of the negative/positive
ratio of the training labels), Adam. The run folder gets ``log.csv``, ``last.safetensors``
(+ optimiser state, for ``--resume``), ``best.safetensors`` (best validation
F1) and ``config.json``.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from movseg.device import resolve_device
from movseg.errors import MovsegError
from movseg.motion.cues import TrackCues
from movseg.motion.model import MotionModelConfig, TrackTransformer, unknown_fields
from movseg.motion.predict import DEFAULT_WEIGHTS, load_model, predict_dynamic, save_model
from movseg.train import data

DAVIS_HOLDOUT = ("breakdance-flare", "elephant", "kite-walk", "motocross-bumps", "tennis")


@dataclass
class TrainConfig:
    out: str = "runs/motion"  # run folder: log.csv, checkpoints, config.json
    cache: str = "runs/cache"  # cached training samples (tracks + cues), reused across runs
    synth_preset: str = "train"  # preset of the rendered training and validation scenes (movseg.synth.scene.PRESETS)
    # Cache the rendered scenes' exact depth channels with their samples (always when model.depth): what a model
    # with depth cues reads. A model without them ignores the channels, so both can train on one cache.
    synth_depth: bool = False
    # Train and validate on the renderer's exact tracks instead of our tracker's: a bound on what a perfect
    # tracker would give, not what `movseg segment` sees (docs/motion.md, "With perfect tracks")
    synth_exact_tracks: bool = False
    synth_seed: int = 0  # seed of the rendered training scenes
    synth_scenes: int = 600  # number of training scenes
    val_seed: int = 1  # seed of the fixed validation scenes (never trained on)
    val_scenes: int = 60
    davis_root: str | None = None  # DAVIS-2016-layout root whose sequences join training (None: synthetic only)
    davis_holdout: tuple[str, ...] = DAVIS_HOLDOUT  # DAVIS sequences kept out of training, for measurement
    davis_fraction: float = 0.25  # share of batch videos drawn from DAVIS when davis_root is set
    davis_strides: tuple[int, ...] = (1,)  # also train on every s-th frame (all offsets): faster real motion
    # settings of the `flow` tracker that makes the samples (None: the pipeline's, movseg.method.PIPELINE_FLOW);
    # a cache records them and refuses others
    tracker_options: dict | None = None
    steps: int = 6000  # optimiser steps
    batch: int = 2  # videos per batch
    min_tracks: int = 64  # tracks per video in a batch: uniform in [min_tracks, max_tracks]
    max_tracks: int = 256
    min_frames: int = 8  # temporal window per batch: uniform in [min_frames, max_frames]
    max_frames: int = 24
    time_offset: int = 0  # each batch's frame indices start at a random index up to this (0: always at 0)
    init: str | None = None  # start from these weights (.safetensors, same model config): fine-tuning
    lr: float = 1e-4  # Adam learning rate (paper 1e-4)
    weight_decay: float = 1e-4  # paper 1e-4
    warmup: int = 200  # linear warm-up steps, then cosine decay to lr / 20
    pos_weight: float | None = None  # BCE weight of positives; None = sqrt(negatives / positives) of the training labels
    val_every: int = 500  # validate (and write checkpoints) every this many steps
    chunk: int = 256  # tracks per attention chunk at validation (as at inference)
    workers: int = 2  # processes preparing the sample cache
    seed: int = 0  # seeds batch sampling and initialisation
    device: str = "auto"  # auto (cuda → mps → cpu), cpu, cuda
    model: MotionModelConfig = field(default_factory=MotionModelConfig)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        unknown = unknown_fields(cls, d)
        if unknown:
            raise MovsegError(f"unknown training config fields {unknown}: see movseg.train.TrainConfig")
        from movseg.synth.scene import PRESETS

        if d.get("synth_preset", "train") not in PRESETS:
            raise MovsegError(f"unknown synth_preset {d['synth_preset']!r}: choose one of {', '.join(PRESETS)}")
        d = dict(d)
        if "model" in d:
            try:
                d["model"] = MotionModelConfig.from_dict(d["model"])
            except ValueError as e:
                raise MovsegError(f"model config: {e}") from e
        for k in ("davis_holdout", "davis_strides"):
            if k in d:
                d[k] = tuple(d[k])
        cfg = cls(**d)
        if cfg.model.depth and cfg.davis_root:
            raise MovsegError("a model with depth cues trains on rendered scenes only (DAVIS has no depth maps "
                              "and movseg has no depth backend yet): set davis_root to null")
        return cfg


def load_config(path: str | Path | None, **overrides) -> TrainConfig:
    """A :class:`TrainConfig` from a JSON or YAML file (fields as in the dataclass), then ``overrides``."""
    d: dict = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise MovsegError(f"config file {p} not found")
        text = p.read_text()
        if p.suffix in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError as e:
                raise MovsegError("YAML configs need PyYAML: pip install pyyaml (or use a .json config)") from e
            try:
                d = yaml.safe_load(text) or {}
            except yaml.YAMLError as e:
                raise MovsegError(f"config file {p} is not valid YAML: {' '.join(str(e).split())}") from None
        else:
            try:
                d = json.loads(text)
            except json.JSONDecodeError as e:
                raise MovsegError(f"config file {p} is not valid JSON: {e}") from None
        if not isinstance(d, dict):
            raise MovsegError(f"config file {p} must hold a mapping of TrainConfig fields, got {type(d).__name__}")
    d.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig.from_dict(d)


def holdout_of(weights: str | Path | None = None) -> set[str]:
    """The DAVIS sequences ``weights`` (default: the shipped ones) did not train on: from their ``.json``
    record (shipped weights) or the ``config.json`` of their run folder, else :data:`DAVIS_HOLDOUT`."""
    weights = Path(weights) if weights is not None else DEFAULT_WEIGHTS
    for record, keys in ((weights.with_suffix(".json"), ("data", "davis_holdout")),
                         (weights.parent / "config.json", ("davis_holdout",))):
        if record.exists():
            value = json.loads(record.read_text())
            for k in keys:
                value = value.get(k) if isinstance(value, dict) else None
            if value is not None:
                return set(value)
    return set(DAVIS_HOLDOUT)


def pick_device(name: str) -> torch.device:
    return torch.device(resolve_device(name))


def load_samples(paths) -> list[dict]:
    return [data.load_sample(p) for p in paths]


def make_batch(samples: list[dict], rng: np.random.Generator, cfg: TrainConfig, davis: list[dict] | None = None):
    """A batch ``(points (B, N, T, F), valid (B, N, T), appearance (B, N, A), tracks_valid (B, N),
    label (B, N), weight (B, N))`` as numpy arrays."""
    t_win = int(rng.integers(cfg.min_frames, cfg.max_frames + 1))
    n_tr = int(rng.integers(cfg.min_tracks, cfg.max_tracks + 1))
    out = []
    for _ in range(cfg.batch):
        pool = davis if (davis and rng.random() < cfg.davis_fraction) else samples
        s = pool[int(rng.integers(len(pool)))]
        T = s["valid"].shape[1]
        t0 = int(rng.integers(0, max(1, T - t_win + 1)))
        win = slice(t0, t0 + t_win)
        valid = s["valid"][:, win]
        cand = np.flatnonzero(valid.any(1) & ~s["ignore"])
        take = rng.choice(cand, min(n_tr, len(cand)), replace=False) if len(cand) else cand
        pts = s["points"][take, win].astype(np.float32)
        if rng.random() < 0.5:  # horizontal flip: u, du change sign
            pts[..., [0, 2]] *= -1
        out.append((pts, valid[take], s["appearance"][take].astype(np.float32), s["label"][take]))
    T = max(o[0].shape[1] for o in out)
    B, N = len(out), n_tr
    Fc, A = out[0][0].shape[-1], out[0][2].shape[-1]
    points = np.zeros((B, N, T, Fc), np.float32)
    valid = np.zeros((B, N, T), bool)
    app = np.zeros((B, N, A), np.float32)
    tv = np.zeros((B, N), bool)
    lab = np.zeros((B, N), np.float32)
    for b, (p, v, a, l) in enumerate(out):
        n, t = v.shape
        points[b, :n, :t], valid[b, :n, :t], app[b, :n], tv[b, :n], lab[b, :n] = p, v, a, True, l
    return points, valid, app, tv, lab


def evaluate_samples(model: TrackTransformer, samples: list[dict], chunk: int = 512) -> dict:
    """Track-level precision, recall, F1 (threshold 0.5), ROC-AUC and BCE over all tracks of ``samples``
    (tracks marked ``ignore`` left out)."""
    probs, labels = [], []
    model.eval()
    for s in samples:
        cues = TrackCues(s["points"].astype(np.float32), s["valid"], s["appearance"].astype(np.float32))
        keep = ~s["ignore"]
        probs.append(predict_dynamic(model, cues, chunk)[keep])
        labels.append(s["label"][keep])
    return classification_scores(np.concatenate(probs), np.concatenate(labels))


def classification_scores(prob: np.ndarray, label: np.ndarray, threshold: float = 0.5) -> dict:
    pred, lab = prob >= threshold, label.astype(bool)
    tp, fp, fn = int((pred & lab).sum()), int((pred & ~lab).sum()), int((~pred & lab).sum())
    p = tp / max(tp + fp, 1)
    r = tp / max(tp + fn, 1)
    auc = roc_auc(prob, lab)
    q = np.clip(prob, 1e-6, 1 - 1e-6)
    bce = float(-np.mean(np.where(lab, np.log(q), np.log(1 - q))))
    return {"precision": p, "recall": r, "f1": 2 * p * r / max(p + r, 1e-12), "auc": auc, "bce": bce,
            "tracks": int(len(lab)), "positives": int(lab.sum())}


def roc_auc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney U with mid-ranks for ties); NaN without both classes."""
    from scipy.stats import rankdata

    lab = label.astype(bool)
    pos, neg = int(lab.sum()), int((~lab).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[lab].sum() - pos * (pos + 1) / 2) / (pos * neg))


def train(cfg: TrainConfig, resume: str | Path | None = None, progress: bool = True) -> dict:
    """Train, validating every ``cfg.val_every`` steps; returns the best validation scores."""
    from tqdm import tqdm

    device = pick_device(cfg.device)
    if resume:
        _state_path(resume)  # fail before any data preparation
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    opts, depth, exact = cfg.tracker_options, cfg.synth_depth or cfg.model.depth, cfg.synth_exact_tracks
    train_s = load_samples(data.prepare_synth(cfg.cache, cfg.synth_seed, cfg.synth_scenes, cfg.synth_preset, cfg.workers, progress,
                                              opts, depth, exact))
    val_s = load_samples(data.prepare_synth(cfg.cache, cfg.val_seed, cfg.val_scenes, cfg.synth_preset, cfg.workers, progress,
                                            opts, depth, exact))
    davis_s = None
    if cfg.davis_root:
        from movseg.eval.evaluate import list_sequences

        seqs = [s for s in list_sequences(Path(cfg.davis_root) / "Annotations" / "480p") if s not in cfg.davis_holdout]
        davis_s = load_samples(data.prepare_davis(cfg.cache, cfg.davis_root, seqs, cfg.workers, progress,
                                                  cfg.davis_strides, opts))
    labels = np.concatenate([s["label"][~s["ignore"]] for s in train_s + (davis_s or [])])
    # the full ratio (~11 on our data) moves the F1-best threshold far from 0.5; its square root keeps
    # positives weighted while 0.5 stays a sensible decision threshold
    pos_weight = cfg.pos_weight or float(np.sqrt((labels == 0).sum() / max(1, labels.sum())))

    model = TrackTransformer(cfg.model).to(device)
    if cfg.init and not resume:
        model.load_state_dict(load_model(cfg.init, cfg.model).state_dict())
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, best = 0, {"f1": -1.0}
    if resume:
        step, best, rng = load_training_state(resume, model, opt, device)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2, default=list))
    log_path = out / "log.csv"
    new_log = not log_path.exists() or not resume
    log = open(log_path, "w" if new_log else "a", newline="")
    writer = csv.writer(log)
    if new_log:
        writer.writerow(["step", "train_loss", "val_precision", "val_recall", "val_f1", "val_auc", "val_bce", "lr",
                         "seconds"])
    start = time.perf_counter()
    bar = tqdm(total=cfg.steps, initial=step, desc="train", disable=not progress)
    losses = []
    while step < cfg.steps:
        model.train()
        for g in opt.param_groups:
            g["lr"] = _lr(cfg, step)
        pts, val, app, tv, lab = (torch.from_numpy(a).to(device) for a in make_batch(train_s, rng, cfg, davis_s))
        t0 = int(rng.integers(0, cfg.time_offset + 1)) if cfg.time_offset else 0
        logits = model(pts, val, app, tv, t0)
        w = tv.float() * torch.where(lab > 0, pos_weight, 1.0)
        loss = (F.binary_cross_entropy_with_logits(logits, lab, reduction="none") * w).sum() / w.sum().clamp_min(1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        losses.append(float(loss.detach()))
        bar.update()
        bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}", best_f1=f"{best['f1']:.3f}")
        if step % cfg.val_every == 0 or step == cfg.steps:
            scores = evaluate_samples(model, val_s, cfg.chunk)
            writer.writerow([step, f"{np.mean(losses):.4f}", *(f"{scores[k]:.4f}" for k in
                             ("precision", "recall", "f1", "auc", "bce")), f"{_lr(cfg, step):.2e}",
                             f"{time.perf_counter() - start:.0f}"])
            log.flush()
            losses = []
            if scores["f1"] > best["f1"]:
                best = {**scores, "step": step}
                save_model(model, out / "best.safetensors")
            save_model(model, out / "last.safetensors")
            save_training_state(out / "last.state.safetensors", opt, step, best, rng)
    bar.close()
    log.close()
    (out / "best.json").write_text(json.dumps(best, indent=2))
    return best


def _lr(cfg: TrainConfig, step: int) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    frac = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(1.0, frac))))


def save_training_state(path: Path, opt: torch.optim.Optimizer, step: int, best: dict, rng) -> None:
    """Optimiser moments as safetensors (no pickle); step, best scores and the sampler RNG in metadata."""
    from safetensors.torch import save_file

    tensors = {}
    for i, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            tensors[f"{i}.{k}"] = (v if torch.is_tensor(v) else torch.tensor(v)).detach().cpu().contiguous()
    meta = {"step": str(step), "best": json.dumps(best), "rng": json.dumps(rng.bit_generator.state)}
    save_file(tensors, str(path), metadata=meta)


def load_training_state(ckpt: str | Path, model: TrackTransformer, opt, device):
    """Resume from a run folder (or its ``last.safetensors``): weights, optimiser, step, sampler RNG."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    from movseg.motion.predict import load_model

    state_path = _state_path(ckpt)
    run = state_path.parent
    loaded = load_model(run / "last.safetensors", config=model.config, device=str(device))
    model.load_state_dict(loaded.state_dict())
    with safe_open(str(state_path), "pt") as f:
        meta = f.metadata()
    flat = load_file(str(state_path))
    sd = opt.state_dict()
    for key, v in flat.items():
        i, k = key.split(".", 1)
        sd["state"].setdefault(int(i), {})[k] = v.to(device) if k != "step" else v
    opt.load_state_dict(sd)
    rng = np.random.default_rng()
    rng.bit_generator.state = json.loads(meta["rng"])
    return int(meta["step"]), json.loads(meta["best"]), rng


def _state_path(ckpt: str | Path) -> Path:
    ckpt = Path(ckpt)
    state_path = (ckpt if ckpt.is_dir() else ckpt.parent) / "last.state.safetensors"
    if not state_path.is_file():
        raise MovsegError(f"cannot resume: {state_path} not found (pass a run folder written by `movseg train`)")
    return state_path
