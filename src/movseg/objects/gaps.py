"""One id through a short occlusion: an object whose tracks all end, and one whose tracks all begin a few
frames later where the first one's motion would have taken it, are the same object.

The tracker bridges an occlusion only for points it finds again near where the camera's motion puts them
(docs/tracking.md), so a moving object that passes behind a static occluder comes out with new tracks, and
the grouping, which links tracks that share frames, gives it a new id. :func:`join_across_gaps` joins the
two groups when

* the second begins at most ``max_gap`` frames after the first ends, in the same shot, and they never share
  a frame of those spans. An object's span is the frames where at least ``min_points`` of its tracks are
  visible and move against the camera: a track that slid off the object onto the scenery beside the
  occluder stays visible there, still, and must not make the object last;
* the first one's position at its last frame, carried on at its velocity there, lands within ``reach``
  times the larger object's typical extent of the second one's position at its first frame, and the same
  holds backwards;
* their velocities at the two ends agree as the grouping's do (``motion_tol`` of the larger speed, plus
  ``abs_tol`` of the frame's longer side per frame).

Positions are medians of those moving points, velocities medians of their displacements over up to
``horizon`` frames. Each object ends in at most one join and starts in at most one; the closest pairs
join first, and a chain of joins is one object.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from movseg.objects.fragments import _root
from movseg.types import Tracks


@dataclass
class GapConfig:
    max_gap: int = 12  # frames without the object between the two spans (0: never join)
    min_points: int = 3  # an object is present on a frame where at least this many of its tracks move
    horizon: int = 4  # velocity over up to this many frames at each end
    # the predicted position within this share of the larger object's extent (plus the speed tolerance per frame
    # of gap): at the two ends the object is partly hidden, its trailing part going in and its leading part
    # coming out, so the medians of the visible points can lie up to a whole extent apart
    reach: float = 1.0
    motion_tol: float = 0.35  # velocities agree within this share of the larger speed ...
    abs_tol: float = 0.004  # ... plus this share of the frame's longer side per frame


@dataclass
class _End:
    frame: int
    position: np.ndarray  # (2,)
    velocity: np.ndarray  # (2,) px per frame, in the direction of time
    extent: float  # px: the object's typical size (see _extent)


def join_across_gaps(tracks: Tracks, object_id: np.ndarray, size: tuple[int, int],
                     config: GapConfig | None = None, moving: np.ndarray | None = None,
                     cuts: list[int] | tuple[int, ...] = ()) -> np.ndarray:
    """``int32 (N,)`` object ids after joining objects across short gaps, renumbered ``1..K`` by size (0 stays 0).

    Args:
        tracks: the video's tracks. object_id: ``int (N,)`` from :func:`~movseg.objects.group_tracks`.
        size: ``(H, W)`` of the frames the tracks live in.
        moving: ``bool (N, T)``, the points that move against the camera (None: every visible point).
        cuts: frames where a new shot begins; no join crosses one.
    """
    cfg = config or GapConfig()
    object_id = np.asarray(object_id, np.int32)
    K = int(object_id.max(initial=0))
    if K < 2 or cfg.max_gap <= 0:
        return object_id
    side = float(max(size))
    spans, heads, tails = {}, {}, {}
    for k in range(1, K + 1):
        mine = object_id == k
        xy, vis = tracks.xy[mine], (tracks.visible if moving is None else moving)[mine]
        present = np.flatnonzero(vis.sum(0) >= cfg.min_points)
        if not len(present):
            continue
        spans[k] = (int(present[0]), int(present[-1]))
        extent = _extent(xy, vis, present)
        heads[k] = _end(xy, vis, spans[k][0], +1, cfg.horizon, extent)
        tails[k] = _end(xy, vis, spans[k][1], -1, cfg.horizon, extent)
    pairs = []
    for a in spans:
        for b in spans:
            gap = spans[b][0] - spans[a][1]
            if a == b or not 0 < gap <= cfg.max_gap + 1 or any(spans[a][1] < c <= spans[b][0] for c in cuts):
                continue
            dist = _mismatch(tails[a], heads[b], gap, side, cfg)
            if dist is not None:
                pairs.append((dist, a, b))
    parent = np.arange(K + 1)
    ended, started = set(), set()
    for _, a, b in sorted(pairs):
        if a in ended or b in started:
            continue
        ended.add(a)
        started.add(b)
        parent[_root(parent, b)] = _root(parent, a)
    roots = np.array([_root(parent, k) for k in range(K + 1)])
    joined = roots[object_id]
    counts = np.bincount(joined, minlength=K + 1)
    counts[0] = 0
    order = [k for k in np.argsort(-counts, kind="stable") if counts[k]]
    renumber = np.zeros(K + 1, np.int32)
    renumber[order] = np.arange(1, len(order) + 1)
    return renumber[joined]


def _end(xy: np.ndarray, vis: np.ndarray, frame: int, inward: int, horizon: int, extent: float) -> _End:
    """An object's position and velocity (px/frame, forward in time) at ``frame``, one of its span's ends;
    the velocity is measured on the frames inside the span (``inward`` +1: after it, -1: before it)."""
    on = vis[:, frame]
    position = np.median(xy[on, frame], 0)
    velocity = np.zeros(2)
    for h in range(horizon, 0, -1):
        other = frame + inward * h
        if not 0 <= other < vis.shape[1]:
            continue
        both = on & vis[:, other]
        if both.sum() >= 2:
            velocity = np.median(xy[both, other] - xy[both, frame], 0) * inward / h
            break
    return _End(frame, position, velocity, extent)


def _extent(xy: np.ndarray, vis: np.ndarray, frames: np.ndarray) -> float:
    """The median over ``frames`` of sqrt(area of the bounding box of the points ``vis`` there), px."""
    sides = []
    for f in frames:
        pts = xy[vis[:, f], f]
        sides.append(np.sqrt(np.prod(pts.max(0) - pts.min(0) + 1)))
    return float(np.median(sides))


def _mismatch(tail: _End, head: _End, gap: int, side: float, cfg: GapConfig) -> float | None:
    """How far apart (px) the two ends are once each is carried across the gap, or None when they cannot be
    one object (too far, or moving differently)."""
    speed_tol = cfg.motion_tol * max(np.linalg.norm(tail.velocity), np.linalg.norm(head.velocity)) + cfg.abs_tol * side
    if np.linalg.norm(tail.velocity - head.velocity) > speed_tol:
        return None
    reach = cfg.reach * max(tail.extent, head.extent) + speed_tol * gap
    forward = np.linalg.norm(tail.position + tail.velocity * gap - head.position)
    backward = np.linalg.norm(head.position - head.velocity * gap - tail.position)
    if max(forward, backward) > reach:
        return None
    return float(forward + backward)
