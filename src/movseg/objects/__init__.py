"""Group dynamic tracks into objects: points that stay close and move together are one object.

:func:`group_tracks` builds a graph over the dynamic tracks. Candidate pairs are near neighbours
among the visible dynamic points at frames spread over the video. Each pair is then judged on
**every** sampled frame where both tracks are visible, not only where they are neighbours: their
motions over the next few frames agree or they do not. The pair is linked when they agree at least
once and disagree on at most a small fraction of those frames. Judging the whole common span keeps a
track that drifts from one object onto another (an occlusion the tracker missed) from bridging the
two when they move differently: it disagrees with each of them on the frames it spent on the other.
When they move alike (often: the camera's pan dominates both), such tracks still link them, so each
connected component is then cut where only a few tracks hold it together (a weak spectral cut, see
:class:`GroupConfig`); the parts are the objects.

Tracks span the whole video (tracked forward and backward), so one component keeps one id from the
first frame to the last, through occlusions that some of its tracks survive; when none survives,
:func:`~movseg.objects.gaps.join_across_gaps` gives the object that comes out the id of the one that
went in. Two objects that move the same way are kept apart as long as they never touch (no links
between them); objects with too few tracks are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from movseg.objects.fragments import FragmentConfig, join_fragments, merge_fragments
from movseg.objects.gaps import GapConfig, join_across_gaps
from movseg.objects.stitch import Stitcher, match_objects
from movseg.types import Tracks

__all__ = ["DEFAULT_THRESHOLD", "FragmentConfig", "GapConfig", "GroupConfig", "Stitcher", "group_tracks",
           "join_across_gaps", "join_fragments", "match_objects", "merge_fragments", "resolve_threshold",
           "video_threshold", "video_threshold_span"]


# the grouping threshold when neither the user nor the motion model's weights give one; the shipped weights
# were judged at it (DAVIS dev J&F: 0.3 50.3, 0.5 54.3, 0.7 55.4, 0.85 53.2 with an early model)
DEFAULT_THRESHOLD = 0.7


def resolve_threshold(*choices: float | None) -> float:
    """The first of ``choices`` that is not None, else :data:`DEFAULT_THRESHOLD`."""
    return next((c for c in choices if c is not None), DEFAULT_THRESHOLD)


# the grid of thresholds that video_threshold chooses from, and how far (in logit) a track counts towards a point
AUTO_LOW, AUTO_HIGH, AUTO_BANDWIDTH = 0.5, 0.9, 0.35


def video_threshold_span(low: float = AUTO_LOW, high: float = AUTO_HIGH,
                         bandwidth: float = AUTO_BANDWIDTH) -> tuple[float, float]:
    """``(lo, hi)``: a track whose P(dynamic) stays below ``lo`` or above ``hi`` changes neither
    :func:`video_threshold`'s choice (with these settings) nor which side of it the track falls on."""
    ends = np.array([low, high])
    lo, hi = 1 / (1 + np.exp(-np.log(ends / (1 - ends)) - [-bandwidth, bandwidth]))
    return float(lo), float(hi)


def video_threshold(dynamic_prob: np.ndarray, default: float, low: float = AUTO_LOW, high: float = AUTO_HIGH,
                    bandwidth: float = AUTO_BANDWIDTH, rise: float = 1.5) -> float:
    """A grouping threshold for one video, read from its own P(dynamic) (``--threshold auto``).

    On video it never saw, the track transformer may put a moving object's tracks anywhere from about 0.5
    to 1, all about alike, so a fixed threshold just above them loses the whole object (docs/motion.md,
    "A threshold per video"). Such an object makes a mode in the density of the tracks' logits; the
    threshold goes to the least dense point below that mode. The density is counted on a grid of
    thresholds ``low, low + 0.05, ..., high``, as the tracks within ``bandwidth`` logits of each. The mode
    is the densest of them above ``low``; when it is not more than ``rise`` times as dense as the valley
    below it (no mover stands out), ``default`` is kept.

    Args:
        dynamic_prob: ``float (N,)`` P(dynamic) of the video's tracks.
        default: the threshold otherwise (the weights' own).

    Returns:
        ``default``, or a point of the grid below ``high``.
    """
    p = np.clip(np.asarray(dynamic_prob, np.float64), 1e-4, 1 - 1e-4)
    grid = np.round(np.arange(low, high + 1e-9, 0.05), 2)
    z, zg = np.log(p / (1 - p)), np.log(grid / (1 - grid))
    density = np.array([np.count_nonzero(np.abs(z - c) < bandwidth) for c in zg])
    mode = 1 + int(np.argmax(density[1:]))
    valley = int(np.argmin(density[:mode]))
    return float(grid[valley]) if density[mode] > rise * density[valley] else default


@dataclass
class GroupConfig:
    # P(dynamic) above which a track is dynamic. None: the one chosen for the track transformer's weights
    # (stored in them; see movseg.motion.load_model), else DEFAULT_THRESHOLD
    threshold: float | None = None
    neighbours: int = 4  # candidate links per point and frame (a link found from either end counts)
    radius: float = 0.06  # longest link, as a fraction of the frame's longer side ...
    spacing_factor: float = 2.5  # ... or this many times the median spacing of the points, whichever is longer
    frame_step: int = 2  # look for neighbours, and compare motions, on every frame_step-th frame
    horizon: int = 4  # compare motions over this many frames
    motion_tol: float = 0.35  # motions agree when |v_i - v_j| <= motion_tol * max(|v_i|, |v_j|) + abs_tol
    abs_tol: float = 0.004  # absolute motion tolerance, fraction of the longer side
    max_apart: float = 0.1  # link a pair whose motions disagree on at most this fraction of the frames compared
    min_tracks: int = 5  # drop objects with fewer tracks (SegAnyMo stops grouping below 6)
    # Split a group in two where few tracks hold it together: tracks that slid from one object onto another
    # (missed occlusions) must not join them. The cut is the best spectral two-way cut of the group's link
    # graph; it is taken when its normalised cut is below max_ncut (0: never split) and the tracks at the
    # cut, on either side, are fewer than bridge * sqrt(tracks on the smaller side): a bridge of a few
    # tracks, not the long contact front of two parts of one body (a waist, a train's cars).
    max_ncut: float = 0.02
    bridge: float = 0.6
    # Drop an object when fewer than this share of its tracks are over the threshold without the whole
    # video's lift (``core_prob``): the lift may add tracks to an object that the windows of the training
    # length found, but not make one. On the 24 validation pans of 72 frames (seed 1) objects were found on
    # 6.8 % of the frames, and 4.5 % at 0.1; DAVIS dev J&F held (63.92 -> 63.91). Every DAVIS dev object of
    # more than 20 tracks has a share of 0.30 (kite-walk's slow walker) or more; the false objects of the pans
    # 0.04-0.7 (docs/motion.md, "The lift adds tracks to objects; it does not make them").
    min_core: float = 0.1


def group_tracks(tracks: Tracks, dynamic_prob: np.ndarray, size: tuple[int, int],
                 config: GroupConfig | None = None, core_prob: np.ndarray | None = None) -> np.ndarray:
    """Object id per track, ``int32 (N,)``: 0 = not part of a moving object, 1..K ordered by size.

    Args:
        tracks: the video's tracks.
        dynamic_prob: ``float32 (N,)`` P(dynamic) per track.
        size: ``(H, W)`` of the frames the tracks live in.
        core_prob: ``float32 (N,)`` P(dynamic) before a lift (see
            :func:`~movseg.motion.predict_dynamic_lifted`); an object needs ``config.min_core`` of its
            tracks over the threshold in it. None: no such check.
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
    if cfg.max_ncut > 0:
        comp = _split_weak(graph, comp, cfg.max_ncut, cfg.bridge, cfg.min_tracks)
    counts = np.bincount(comp)
    keep = counts >= cfg.min_tracks
    if core_prob is not None:
        core = np.bincount(comp, weights=core_prob[dyn] > resolve_threshold(cfg.threshold), minlength=len(counts))
        keep &= core >= cfg.min_core * counts
    order = [c for c in np.argsort(-counts, kind="stable") if keep[c]]
    for k, c in enumerate(order, start=1):
        object_id[dyn[comp == c]] = k
    return object_id


def _split_weak(graph, comp: np.ndarray, max_ncut: float, bridge: float, min_size: int) -> np.ndarray:
    """Component labels ``(M,)`` after recursively cutting every component at its best spectral two-way
    cut while that cut is weak (see :class:`GroupConfig`; both sides at least ``min_size`` tracks).

    Args:
        graph: ``(M, M)`` sparse links between the dynamic tracks. comp: ``int (M,)`` its components.
    """
    from scipy.sparse.linalg import ArpackNoConvergence, eigsh

    adj = (graph + graph.T).tocsr()
    adj.data[:] = 1.0
    out = np.zeros(len(comp), np.int64)
    todo = [np.flatnonzero(comp == c) for c in np.unique(comp)]
    label = 0
    while todo:
        nodes = todo.pop()
        if len(nodes) >= 2 * min_size and len(nodes) > 3:
            sub = adj[nodes][:, nodes]
            deg = np.asarray(sub.sum(1)).ravel()
            if (deg > 0).all():
                d = 1 / np.sqrt(deg)
                norm = sub.multiply(d[:, None]).multiply(d[None, :]).tocsr()
                try:
                    _, vec = eigsh(norm, k=2, which="LA", v0=np.sqrt(deg))
                    fiedler = vec[:, 0] * d  # the second-largest eigenvector (eigsh sorts ascending)
                except ArpackNoConvergence:  # keep the component whole
                    fiedler = None
                if fiedler is not None:
                    coo = sub.tocoo()
                    side = _best_cut(coo, deg, np.argsort(fiedler), max_ncut, min_size)
                    if side is not None and _is_bridge(coo, side, bridge):
                        todo += [nodes[side], nodes[~side]]
                        continue
        out[nodes] = label
        label += 1
    return out


def _is_bridge(coo, side: np.ndarray, bridge: float) -> bool:
    """Whether the tracks with a link across the cut ``side`` / ``~side`` are, on one side at least, fewer
    than ``bridge * sqrt(size of the smaller side)``; ``coo``: the group's symmetric links."""
    across = side[coo.row] & ~side[coo.col]
    at_cut = min(len(np.unique(coo.row[across])), len(np.unique(coo.col[across])))
    return at_cut < bridge * np.sqrt(min(side.sum(), (~side).sum()))


def _best_cut(coo, deg: np.ndarray, order: np.ndarray, max_ncut: float, min_size: int):
    """``bool (m,)`` one side of the sweep cut along ``order`` with the lowest normalised cut, if it is
    below ``max_ncut``; else None."""
    m = len(order)
    rank = np.empty(m, np.int64)
    rank[order] = np.arange(m)
    lo, hi = np.minimum(rank[coo.row], rank[coo.col]), np.maximum(rank[coo.row], rank[coo.col])
    keep = lo < hi  # each undirected edge twice in a symmetric matrix: halve below
    diff = np.zeros(m + 1)
    np.add.at(diff, lo[keep], 0.5)
    np.add.at(diff, hi[keep], -0.5)
    cut = np.cumsum(diff)[:m - 1]  # edges between ranks <= k and > k
    vol = np.cumsum(deg[order])[:m - 1]
    total = deg.sum()
    ncut = cut / np.maximum(vol, 1e-9) + cut / np.maximum(total - vol, 1e-9)
    k = np.arange(m - 1)
    ncut[(k + 1 < min_size) | (m - k - 1 < min_size)] = np.inf
    best = int(np.argmin(ncut))
    if not ncut[best] < max_ncut:
        return None
    return rank <= best


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
        pairs.append(np.sort(np.stack([i, j], 1)[i != j], axis=1))  # either end may have found the other
    p = np.unique(np.concatenate(pairs), axis=0)
    return p[:, 0], p[:, 1]
