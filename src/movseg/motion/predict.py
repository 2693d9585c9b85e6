"""Loading, saving and running the track transformer; the geometric baseline."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from movseg.device import resolve_device
from movseg.errors import MovsegError
from movseg.motion.cues import POINT_CHANNELS, TrackCues
from movseg.motion.model import MotionModelConfig, TrackTransformer

DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "track_transformer.safetensors"


def save_model(model: TrackTransformer, path: str | Path, threshold: float | None = None) -> None:
    """Write the weights as safetensors with the model config in the file's metadata, and the grouping
    threshold chosen for these weights when given (default: ``model.threshold``, if it has one), and
    ``model.small_min_score`` if it has one."""
    from safetensors.torch import save_file

    threshold = model.threshold if threshold is None else threshold
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"format": "movseg-track-transformer", "config": json.dumps(model.config.to_dict(), sort_keys=True)}
    if threshold is not None:
        meta["threshold"] = repr(float(threshold))
    if model.small_min_score is not None:
        meta["small_min_score"] = repr(float(model.small_min_score))
    save_file(state, str(path), metadata=meta)
    _sort_header(Path(path))


def update_record(path: str | Path, **fields) -> None:
    """After the weights at ``path`` were rewritten, refresh the ``.json`` record beside them, if there is one
    (as ``tools/ship_weights.py`` writes it): set ``fields`` and the file's SHA-256 and size."""
    import hashlib

    path = Path(path)
    sidecar = path.with_suffix(".json")
    if sidecar.exists():
        data = path.read_bytes()
        info = {**json.loads(sidecar.read_text()), **fields,
                "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        sidecar.write_text(json.dumps(info, indent=2) + "\n")


def _sort_header(path: Path) -> None:
    """Rewrite a safetensors file's JSON header with sorted keys. safetensors writes its metadata in hash-map
    order, which changes from run to run, so the same weights got other bytes and another SHA-256 in their
    record each time they were saved. The tensor data and their offsets (relative to it) are unchanged."""
    import struct

    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.dumps(json.loads(raw[8 : 8 + n]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)  # the data stays 8-byte aligned, as safetensors writes it
    path.write_bytes(struct.pack("<Q", len(header)) + header + raw[8 + n :])


def load_model(path: str | Path | None = None, config: MotionModelConfig | None = None,
               device: str = "auto") -> TrackTransformer:
    """Load a track transformer (default: the weights shipped in the package).

    ``config``, when given, must equal the checkpoint's config; otherwise a
    :class:`MovsegError` says which fields differ. ``device``: see :func:`movseg.device.resolve_device`. ``model.threshold`` is the P(dynamic) above which
    these weights' tracks are grouped into objects, as chosen for them (None when the file has none);
    ``model.small_min_score`` the mean P from which the masks stage trusts a small object (None: its default).
    A model's scores are calibrated differently from run to run, so both belong to the weights
    (docs/motion.md, "The grouping threshold belongs to the weights").
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path) if path is not None else DEFAULT_WEIGHTS
    if not path.is_file():
        raise MovsegError(f"no track-transformer weights at {path}: pass a .safetensors file made by `movseg train`")
    try:
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
    except Exception as e:  # safetensors raises its own error types
        raise MovsegError(f"{path} is not a safetensors file ({e}): pass a checkpoint made by `movseg train`") from e
    if meta.get("format") != "movseg-track-transformer" or "config" not in meta:
        raise MovsegError(f"{path} is not a movseg track-transformer checkpoint (no model config in its metadata)")
    try:
        file_config = MotionModelConfig.from_dict(json.loads(meta["config"]))
    except (ValueError, TypeError) as e:
        raise MovsegError(f"{path}: its model config does not fit this version of movseg ({e})") from e
    if config is not None and config != file_config:
        a, b = config.to_dict(), file_config.to_dict()
        diff = ", ".join(f"{k}: wanted {a[k]!r}, file has {b[k]!r}" for k in a if a[k] != b[k])
        raise MovsegError(f"{path} was trained with another model config ({diff}): use matching weights or config")
    threshold = _probability(meta, "threshold", "grouping threshold", path)
    small_min_score = _probability(meta, "small_min_score", "small-object score", path)
    model = TrackTransformer(file_config)
    missing, unexpected = model.load_state_dict(load_file(str(path)), strict=False)
    if missing or unexpected:
        raise MovsegError(f"{path} does not fit its own config (missing {missing[:3]}, unexpected {unexpected[:3]})")
    model.threshold, model.small_min_score = threshold, small_min_score
    return model.to(resolve_device(device)).eval()


def _probability(meta: dict, key: str, what: str, path: Path) -> float | None:
    """The probability stored under ``key`` in a checkpoint's metadata (None when absent)."""
    if key not in meta:
        return None
    try:
        value = float(meta[key])
    except ValueError:
        raise MovsegError(f"{path}: its {what} {meta[key]!r} is not a number") from None
    if not 0 < value < 1:
        raise MovsegError(f"{path}: its {what} {value} is outside (0, 1)")
    return value


# the longest stretch of frames the model sees at once; training windows are 8–24 frames, so its time
# embedding has never seen a later frame index (docs/motion.md, "Inference in windows")
WINDOW = 24


@torch.inference_mode()
def predict_dynamic(model: TrackTransformer, cues: TrackCues, chunk: int = 256, seed: int = 0,
                    window: int | None = WINDOW) -> np.ndarray:
    """P(dynamic) ``float32 (N,)`` for every track; 0 for a track without a valid point.

    A video longer than ``window`` frames is cut into consecutive windows of ``window`` frames (the
    last one ends at the last frame), the length the model was trained on. Each track is scored in
    every window where it has a valid point; its logit is the mean of those scores weighted by its
    valid points in each. ``window=None`` scores the whole video at once.

    Attention across tracks runs within chunks of at most ``chunk`` tracks (a seeded random
    partition into equal parts): memory stays linear in the number of tracks, and every chunk looks
    like a training sample (64–256 tracks).
    """
    n, t = cues.valid.shape
    window = max(1, t if window is None else min(window, t))
    total, weight = np.zeros(n), np.zeros(n)
    for start in [*range(0, t - window, window), t - window] if n and t else []:
        part = cues.frames(slice(start, start + window))
        rows = np.flatnonzero(part.valid.any(1))
        if len(rows) == 0:
            continue
        w = part.valid[rows].sum(1)
        total[rows] += w * _logits(model, part.subset(rows), chunk, seed)
        weight[rows] += w
    out = _sigmoid(total / np.maximum(weight, 1))
    out[weight == 0] = 0.0  # never valid: no evidence of motion
    return out


def predict_dynamic_max(model: TrackTransformer, cues: TrackCues, windows: tuple[int | None, ...],
                        chunk: int = 256, seed: int = 0, lift: float | None = None,
                        threshold: float | None = None) -> np.ndarray:
    """P(dynamic) ``float32 (N,)`` from one :func:`predict_dynamic` scoring per entry of ``windows``
    (None: the whole video at once); the first array of :func:`predict_dynamic_lifted`."""
    return predict_dynamic_lifted(model, cues, windows, chunk, seed, lift, threshold)[0]


def predict_dynamic_lifted(model: TrackTransformer, cues: TrackCues, windows: tuple[int | None, ...],
                           chunk: int = 256, seed: int = 0, lift: float | None = None,
                           threshold: float | tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """P(dynamic) ``float32 (N,)`` from one :func:`predict_dynamic` scoring per entry of ``windows``
    (None: the whole video at once), and the P of the windows alone ``(N,)``, before the whole video
    lifted it (the same array where nothing was lifted). A window as long as the video is the whole
    video, so it is scored once.

    Each track takes its highest windowed logit. The whole-video scoring may raise that logit, by at
    most ``lift`` (None: without limit, so P is the highest of all the scorings). Over a long video the
    whole-video scoring gives slow movers the evidence that short windows lack, but it also gives the
    parallax of long camera pans P above the threshold; a pan's windows rarely back it up
    (docs/motion.md, "A capped lift"). With only the whole video, or only windows, P is that scoring's.

    With a ``lift`` and the grouping ``threshold``, the whole video scores only the tracks that the
    lift can carry over the threshold (windowed P below it, by less than ``lift`` in logit); with a range
    ``(lo, hi)`` the threshold will be chosen in, those below ``hi`` that it can carry over ``lo``. Each with
    :data:`LIFT_FILL` other tracks drawn at random, since the model judges a track against the others
    in its chunk; only those tracks are lifted. The grouping is nearly that of a whole-video pass over
    every track, at a fraction of its cost (docs/motion.md, "The lift where it can matter").
    """
    t = cues.valid.shape[1]
    lengths = dict.fromkeys(None if w is None or w >= t else w for w in windows)
    local = [predict_dynamic(model, cues, chunk, seed, w) for w in lengths if w is not None]
    if not local:
        whole = predict_dynamic(model, cues, chunk, seed, None)
        return whole, whole
    best = np.max(local, axis=0)
    if None not in lengths:
        return best, best
    if lift is None:
        return np.maximum(best, predict_dynamic(model, cues, chunk, seed, None)), best
    if threshold is None:
        rows, whole = slice(None), predict_dynamic(model, cues, chunk, seed, None)
    else:
        rows, whole = _whole_where_it_can_lift(model, cues, best, lift, threshold, chunk, seed)
    out, low = best.copy(), _logit(best[rows])
    out[rows] = _sigmoid(low + np.clip(_logit(whole[rows]) - low, 0.0, lift))
    out[(best == 0) & (whole == 0)] = 0.0  # never valid: no evidence of motion
    return out, best


LIFT_FILL = 3  # other tracks per lifted track in the whole-video pass of a gated lift


def _whole_where_it_can_lift(model: TrackTransformer, cues: TrackCues, best: np.ndarray, lift: float,
                             threshold: float | tuple[float, float], chunk: int,
                             seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The indices of the tracks that a lift of ``lift`` can carry over ``threshold`` (or, for a range, that
    are below its top and can be carried over its bottom), and the whole-video P ``(N,)`` of those tracks
    (``best`` elsewhere)."""
    lo, hi = threshold if isinstance(threshold, tuple) else (threshold, threshold)
    logit = _logit(best)
    rows = np.flatnonzero((best > 0) & (best < hi) & (logit >= _logit(lo) - lift))
    whole = best.copy()
    if len(rows):
        rest = np.setdiff1d(np.arange(len(best)), rows)
        fill = np.random.default_rng(seed).choice(rest, min(len(rest), LIFT_FILL * len(rows)), replace=False)
        idx = np.sort(np.concatenate([rows, fill]))
        whole[idx] = predict_dynamic(model, cues.subset(idx), chunk, seed, None)
    return rows, whole


def _logits(model: TrackTransformer, cues: TrackCues, chunk: int, seed: int) -> np.ndarray:
    """Logits ``float32 (N,)`` of all tracks of ``cues`` (N ≥ 1), in seeded random chunks.

    On a CPU the chunks run side by side on torch's threads, one op thread each: the model's ops are
    small (a 256-track chunk), so one chunk per core beats every op split over the cores (rhino,
    10,000 tracks, 2 cores: 6.7–8.6 s against 9.2–10.2 s). Chunks are independent, so the result does
    not depend on the order they run in.
    """
    n = len(cues.valid)
    out = np.zeros(n, np.float32)
    device = next(model.parameters()).device
    parts = [np.sort(idx) for idx in np.array_split(np.random.default_rng(seed).permutation(n), -(-n // chunk))]

    def run(idx: np.ndarray) -> None:
        with torch.inference_mode():
            p = torch.from_numpy(cues.points[idx]).float()[None].to(device)
            v = torch.from_numpy(cues.valid[idx])[None].to(device)
            a = torch.from_numpy(cues.appearance[idx]).float()[None].to(device)
            out[idx] = model(p, v, a)[0].float().cpu().numpy()

    threads = torch.get_num_threads()
    workers = min(threads, len(parts)) if device.type == "cpu" else 1
    if workers <= 1:
        for idx in parts:
            run(idx)
        return out
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, parts))
    finally:
        torch.set_num_threads(threads)
    return out


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1 / (1 + np.exp(-np.asarray(x, np.float64)))).astype(np.float32)


_RES = POINT_CHANNELS.index("res_h1")

# residual (log1p of thousandths of the frame side) above which the geometric baseline calls a track dynamic,
# chosen on the validation scenes (train preset, seed 1) by `python benchmarks/geometric_threshold.py`
GEOMETRIC_THRESHOLD = 1.7


def geometric_score(cues: TrackCues, quantile: float = 0.5) -> np.ndarray:
    """Non-learned baseline score ``(N,)``: the ``quantile`` over a track's valid frames of its residual
    against the frame-to-frame camera homography (log1p of thousandths of the frame side)."""
    res = np.where(cues.valid, cues.points[..., _RES], np.nan)  # (N, T)
    has = cues.valid.any(1)
    score = np.zeros(len(res), np.float32)
    if has.any():
        score[has] = np.nanquantile(res[has], quantile, axis=1)
    return score


def geometric_dynamic(cues: TrackCues, threshold: float = GEOMETRIC_THRESHOLD, quantile: float = 0.5, softness: float = 0.25) -> np.ndarray:
    """The geometric baseline as a probability ``(N,)``: 0.5 at ``threshold``."""
    return (1 / (1 + np.exp(-(geometric_score(cues, quantile) - threshold) / softness))).astype(np.float32)
