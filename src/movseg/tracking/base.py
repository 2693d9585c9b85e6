"""Tracker interface, registry and query helpers."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from movseg.errors import MovsegError
from movseg.registry import Registry
from movseg.types import Tracks, Video


class Tracker(Protocol):
    """Tracks query points through a whole video, forward and backward.

    ``__call__(video, queries)``: ``queries`` is ``float32 (N, 3)`` as
    ``(t, x, y)`` in pixels of ``video``; returns :class:`Tracks` with
    ``N`` tracks over all ``T`` frames.
    """

    def __call__(self, video: Video, queries: np.ndarray) -> Tracks: ...


TRACKERS = Registry("tracker")
register = TRACKERS.register  # class decorator: make a tracker selectable as ``--tracker name``


def build_tracker(name: str = "flow", **config) -> Tracker:
    """Instantiate a registered tracker; ``config`` fills its config dataclass."""
    return TRACKERS.build(name, **config)


def make_queries(num_frames: int, height: int, width: int, grid_size: int = 10, step: int = 8,
                 max_tracks: int | None = None, seed: int = 0) -> np.ndarray:
    """SegAnyMo-style queries: a grid every ``grid_size`` px on frames ``0, step, 2*step, ...``.

    Returns ``float32 (N, 3)`` rows ``(t, x, y)``. With ``max_tracks``, a
    seeded random subset of that size (sorted by frame, then position).
    """
    if grid_size < 1 or step < 1:
        raise MovsegError(f"grid size and step must be >= 1 (got {grid_size}, {step})")
    ys, xs = np.mgrid[grid_size // 2 : height : grid_size, grid_size // 2 : width : grid_size]
    frames = np.arange(0, num_frames, step)
    q = np.concatenate([np.stack([np.full(xs.size, t), xs.ravel(), ys.ravel()], 1) for t in frames])
    if max_tracks is not None and len(q) > max_tracks:
        keep = np.sort(np.random.default_rng(seed).choice(len(q), max_tracks, replace=False))
        q = q[keep]
    return q.astype(np.float32)


def check_queries(queries: np.ndarray, num_frames: int) -> np.ndarray:
    """Validate ``(N, 3)`` queries; frames must lie in the video (points may lie outside the image)."""
    q = np.asarray(queries, np.float32)
    if q.ndim != 2 or q.shape[1] != 3:
        raise MovsegError(f"queries must be an (N, 3) array of (t, x, y), got shape {q.shape}")
    if len(q) and (not np.isfinite(q).all() or q[:, 0].min() < 0 or q[:, 0].max() > num_frames - 1):
        raise MovsegError(f"query frames must be within 0..{num_frames - 1} and coordinates finite")
    return q


def working_size(height: int, width: int, work_side: int) -> tuple[tuple[int, int], float, float]:
    """Frame size ``(w, h)`` with the longer side at most ``work_side``, and the scale factors ``(sx, sy)``."""
    s = min(1.0, work_side / max(height, width))
    size = (max(8, round(width * s)), max(8, round(height * s)))
    return size, size[0] / width, size[1] / height


def rescale_xy(xy: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """Points ``(..., 2)`` ``(x, y)`` of an image → the same points once it is resized by ``(sx, sy)``
    (pixel centres at integer coordinates, as everywhere in movseg)."""
    xy = np.asarray(xy, np.float32)
    return np.stack([(xy[..., 0] + 0.5) * sx - 0.5, (xy[..., 1] + 0.5) * sy - 0.5], -1).astype(np.float32)


def queries_from_tracks(xy: np.ndarray, query_frame: np.ndarray) -> np.ndarray:
    """The ``(N, 3)`` ``(t, x, y)`` queries of known tracks (``xy (N, T, 2)``): their positions at their query frames."""
    qf = np.asarray(query_frame, int)
    n = np.arange(len(qf))
    return np.stack([qf, xy[n, qf, 0], xy[n, qf, 1]], 1).astype(np.float32)


def inside_frame(pts: np.ndarray, w: int, h: int) -> np.ndarray:
    """``bool (M,)``: points ``(M, 2)`` lie on the image (pixel centres at integers, so edges at -0.5)."""
    return (pts[:, 0] >= -0.5) & (pts[:, 0] <= w - 0.5) & (pts[:, 1] >= -0.5) & (pts[:, 1] <= h - 0.5)
