"""Group dynamic tracks into objects: points that stay close and move together are one object.

:func:`group_tracks` builds a graph over the dynamic tracks. Candidate pairs are near neighbours
among the visible dynamic points at frames spread over the video. Each pair is then judged on
**every** sampled frame where both tracks are visible, not only where they are neighbours: their
motions over the next few frames agree or they do not. The pair is linked when they agree at least
once and disagree on at most a small fraction of those frames; the connected components are the
objects. Judging the whole common span keeps a track that drifts from one object onto another (an
occlusion the tracker missed) from bridging the two: it disagrees with each of them on the frames
it spent on the other.

Tracks span the whole video (tracked forward and backward), so one component keeps one id from the
first frame to the last, through occlusions that some of its tracks survive. Two objects that move
the same way are kept apart as long as they never touch (no links between them); objects with too
few tracks are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from movseg.types import Tracks


# the grouping threshold when neither the user nor the motion model's weights give one; the shipped weights
# were judged at it (DAVIS dev J&F: 0.3 50.3, 0.5 54.3, 0.7 55.4, 0.85 53.2 with an early model)
DEFAULT_THRESHOLD = 0.7


def resolve_threshold(*choices: float | None) -> float:
    """The first of ``choices`` that is not None, else :data:`DEFAULT_THRESHOLD`."""
    return next((c for c in choices if c is not None), DEFAULT_THRESHOLD)


@dataclass
class GroupConfig:
    # P(dynamic) above which a track is dynamic. None: the one chosen for the track transformer's weights
    # (stored in them; see movseg.motion.load_model), else DEFAULT_THRESHOLD
    threshold: float | None = None
    neighbours: int = 6  # candidate links per point and frame
    radius: float = 0.06  # longest link, as a fraction of the frame's longer side ...
    spacing_factor: float = 2.5  # ... or this many times the median spacing of the points, whichever is longer
    frame_step: int = 2  # look for neighbours, and compare motions, on every frame_step-th frame
    horizon: int = 4  # compare motions over this many frames
    motion_tol: float = 0.35  # motions agree when |v_i - v_j| <= motion_tol * max(|v_i|, |v_j|) + abs_tol
    abs_tol: float = 0.004  # absolute motion tolerance, fraction of the longer side
    max_apart: float = 0.1  # link a pair whose motions disagree on at most this fraction of the frames compared
    min_tracks: int = 5  # drop objects with fewer tracks (SegAnyMo stops grouping below 6)


def group_tracks(tracks: Tracks, dynamic_prob: np.ndarray, size: tuple[int, int],
                 config: GroupConfig | None = None) -> np.ndarray:
    """Object id per track, ``int32 (N,)``: 0 = not part of a moving object, 1..K ordered by size.

    Args:
        tracks: the video's tracks.
        dynamic_prob: ``float32 (N,)`` P(dynamic) per track.
        size: ``(H, W)`` of the frames the tracks live in.
    """
    cfg = config or GroupConfig()
    n, t = tracks.visible.shape
    object_id = np.zeros(n, np.int32)
    dyn = np.flatnonzero(dynamic_prob > resolve_threshold(cfg.threshold))
    if len(dyn) < cfg.min_tracks:
        return object_id
    side = float(max(size))
    xy = tracks.xy[dyn].astype(np.float64)  # (M, T, 2)
    vis = tracks.visible[dyn]
    i, j = _neighbour_pairs(xy, vis, side, cfg)
    agree = np.zeros(len(i), np.int32)
    apart = np.zeros(len(i), np.int32)
    for f in range(0, t - 1, cfg.frame_step):
        g = min(t - 1, f + cfg.horizon)
        both = vis[i, f] & vis[j, f] & vis[i, g] & vis[j, g]
        vi, vj = xy[i, g] - xy[i, f], xy[j, g] - xy[j, f]
        diff = np.linalg.norm(vi - vj, axis=1)
        tol = cfg.motion_tol * np.maximum(np.linalg.norm(vi, axis=1), np.linalg.norm(vj, axis=1)) + cfg.abs_tol * side
        agree += both & (diff <= tol)
        apart += both & (diff > tol)
    link = (agree > 0) & (apart <= cfg.max_apart * (agree + apart))
    m = len(dyn)
    graph = coo_matrix((np.ones(int(link.sum()), np.int8), (i[link], j[link])), shape=(m, m))
    _, comp = connected_components(graph, directed=False)
    counts = np.bincount(comp)
    order = [c for c in np.argsort(-counts, kind="stable") if counts[c] >= cfg.min_tracks]
    for k, c in enumerate(order, start=1):
        object_id[dyn[comp == c]] = k
    return object_id


def _neighbour_pairs(xy: np.ndarray, vis: np.ndarray, side: float, cfg: GroupConfig):
    """``(i, j)``, each ``int (P,)`` with ``i < j``: the unique pairs of tracks that are near
    neighbours on some sampled frame.

    Args:
        xy: ``float64 (M, T, 2)`` positions. vis: ``bool (M, T)``. side: the frame's longer side, px.
    """
    pairs = [np.zeros((0, 2), np.int64)]
    for f in range(0, xy.shape[1], cfg.frame_step):
        rows = np.flatnonzero(vis[:, f])
        if len(rows) < 2:
            continue
        dist, nb = cKDTree(xy[rows, f]).query(xy[rows, f], k=min(cfg.neighbours + 1, len(rows)))
        reach = max(cfg.radius * side, cfg.spacing_factor * float(np.median(dist[:, 1])))
        ok = (dist <= reach).ravel()
        i, j = np.repeat(rows, nb.shape[1])[ok], rows[nb.ravel()[ok]]
        pairs.append(np.stack([i, j], 1)[i < j])
    p = np.unique(np.concatenate(pairs), axis=0)
    return p[:, 0], p[:, 1]
