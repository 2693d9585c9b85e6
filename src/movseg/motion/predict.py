"""Loading, saving and running the track transformer; the geometric baseline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from movseg.errors import MovsegError
from movseg.motion.cues import POINT_CHANNELS, TrackCues
from movseg.motion.model import MotionModelConfig, TrackTransformer

DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "track_transformer.safetensors"


def save_model(model: TrackTransformer, path: str | Path) -> None:
    """Write the weights as safetensors with the model config in the file's metadata."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata={"format": "movseg-track-transformer",
                                         "config": json.dumps(model.config.to_dict(), sort_keys=True)})


def load_model(path: str | Path | None = None, config: MotionModelConfig | None = None,
               device: str = "cpu") -> TrackTransformer:
    """Load a track transformer (default: the weights shipped in the package).

    ``config``, when given, must equal the checkpoint's config; otherwise a
    :class:`MovsegError` says which fields differ.
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
    model = TrackTransformer(file_config)
    missing, unexpected = model.load_state_dict(load_file(str(path)), strict=False)
    if missing or unexpected:
        raise MovsegError(f"{path} does not fit its own config (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model.to(device).eval()


@torch.inference_mode()
def predict_dynamic(model: TrackTransformer, cues: TrackCues, chunk: int = 256, seed: int = 0) -> np.ndarray:
    """P(dynamic) ``float32 (N,)`` for every track.

    Attention across tracks runs within chunks of at most ``chunk`` tracks (a
    seeded random partition into equal parts): memory stays linear in the
    number of tracks, and every chunk looks like a training sample (64–256
    tracks). 5,000 tracks x 80 frames on 2 cores: chunk 256 takes 3.0 s and
    +170 MB, chunk 512 3.6 s and +290 MB, at the same F1 and AUC
    (``python benchmarks/motion_speed.py --chunk N``).
    """
    n = len(cues.valid)
    out = np.zeros(n, np.float32)
    if n == 0:
        return out
    device = next(model.parameters()).device
    parts = np.array_split(np.random.default_rng(seed).permutation(n), -(-n // chunk))
    for idx in parts:
        idx = np.sort(idx)
        p = torch.from_numpy(cues.points[idx]).float()[None].to(device)
        v = torch.from_numpy(cues.valid[idx])[None].to(device)
        a = torch.from_numpy(cues.appearance[idx]).float()[None].to(device)
        out[idx] = torch.sigmoid(model(p, v, a)[0]).cpu().numpy()
    return out


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
