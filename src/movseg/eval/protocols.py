"""Evaluation protocols over one sequence: MOS, fine-grained (DAVIS-2017 unsupervised), MOS-I.

Inputs are label maps ``uint8 (T, H, W)`` (0 = background, k = object k).

* **MOS** (:func:`evaluate_mos`): every non-zero id is merged into one
  foreground, in prediction and ground truth; J and F per frame.
* **Fine** (:func:`evaluate_fine`): the DAVIS-2017 unsupervised protocol. GT
  objects are the non-zero ids that occur in the sequence, predicted objects
  ids ``1..max(pred)``. The toolkit counts GT ids ``1..max`` of the first
  frame, which is the same set on DAVIS, where ids are contiguous and every
  object is present at frame 0; our synthetic ``masks/`` keep the scene's ids
  and leave out objects that never move, and an id that never occurs must not
  count as an object segmented perfectly (an empty GT mask against an empty
  prediction scores J = F = 1). More than 20 predicted ids is an error; with fewer predictions
  than GT objects the predictions are padded with empty masks. A
  ``pred × GT`` matrix of ``(mean_t J + mean_t F) / 2`` is solved by one
  Hungarian assignment per sequence; each GT object then has the per-frame J
  and F of its match (an object matched to a padding mask scores J = F = 0 on
  frames where it is present). The global mean is over objects, as the
  toolkit's.
* **MOS-I** (:func:`evaluate_mos_i`): as described in its docstring.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from movseg.errors import MovsegError
from movseg.eval.metrics import Boundary, bound_pixels, boundary_f, f_from_boundaries, jaccard

MAX_PROPOSALS = 20
MOS_I_THRESHOLDS = np.round(np.arange(0.50, 0.951, 0.05), 2)  # 0.50, 0.55, ..., 0.95


@dataclass
class ObjectScores:
    """Per-frame J and F of one ground-truth object (the whole foreground for MOS)."""

    J: np.ndarray  # (T,)
    F: np.ndarray  # (T,)
    id: int = 1  # the GT object's id (1 for MOS's merged foreground)


def _pairs(gt: Sequence[np.ndarray], pred: Sequence[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(gt[t], pred[t])`` for every frame in order, each indexed once (either may read its frames from files)."""
    if len(gt) != len(pred):
        raise MovsegError(f"prediction has {len(pred)} frames but ground truth has {len(gt)}")
    for t in range(len(gt)):
        g, p = np.asarray(gt[t]), np.asarray(pred[t])
        if g.shape != p.shape:
            raise MovsegError(f"prediction is {p.shape} but ground truth is {g.shape} (nothing is resized silently)")
        yield g, p


def _counts(g: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``int64 (256, 256)``: pixels with GT id ``a`` and predicted id ``b`` at ``[a, b]`` (one frame)."""
    return np.bincount((g.astype(np.int64) * 256 + p).ravel(), minlength=65536).reshape(256, 256)


def _iou(inter: np.ndarray, area_a: np.ndarray, area_b: np.ndarray) -> np.ndarray:
    """IoU from pixel counts, 1 where both masks are empty (:func:`movseg.eval.metrics.jaccard`)."""
    union = area_a + area_b - inter
    return np.where(union == 0, 1.0, inter / np.maximum(union, 1))


def evaluate_mos(gt: Sequence[np.ndarray], pred: Sequence[np.ndarray]) -> list[ObjectScores]:
    """MOS protocol: foreground = any non-zero id. Returns one :class:`ObjectScores`.

    ``gt`` and ``pred``: label maps ``uint8 (T, H, W)``, or any sequences of ``T`` frames ``(H, W)``; every
    protocol reads them frame by frame, so memory does not grow with the length of the video."""
    J, F = [], []
    for g, p in _pairs(gt, pred):
        g, p = g > 0, p > 0
        J.append(jaccard(g, p))
        F.append(boundary_f(g, p))
    return [ObjectScores(np.array(J, np.float64), np.array(F, np.float64))]


def _ids(gt: Sequence[np.ndarray], pred: Sequence[np.ndarray]) -> tuple[np.ndarray, int]:
    """The GT ids that occur in some frame (ascending, 0 left out) and the largest predicted id."""
    seen, n_pred = np.zeros(256, bool), 0
    for g, p in _pairs(gt, pred):
        seen |= np.bincount(g.ravel(), minlength=256) > 0
        n_pred = max(n_pred, int(p.max(initial=0)))
    return np.flatnonzero(seen[1:]) + 1, n_pred


def evaluate_fine(gt: Sequence[np.ndarray], pred: Sequence[np.ndarray]) -> list[ObjectScores]:
    """DAVIS-2017 unsupervised protocol: one :class:`ObjectScores` per GT object (the ids that occur, ascending)."""
    gt_ids, n_pred = _ids(gt, pred)
    if n_pred > MAX_PROPOSALS:
        raise MovsegError(f"prediction uses object id {n_pred}: at most {MAX_PROPOSALS} objects are allowed per sequence")
    n_gt, T = len(gt_ids), len(gt)
    if n_gt == 0:
        return []
    n_rows = max(n_pred, n_gt)
    J = np.zeros((n_rows, n_gt, T))
    F = np.zeros((n_rows, n_gt, T))
    for t, (g, p) in enumerate(_pairs(gt, pred)):
        r = bound_pixels(g.shape)
        c = _counts(g, p)
        on_gt = c[gt_ids]  # (n_gt, 256)
        inter = np.zeros((n_rows, n_gt), np.int64)  # rows past n_pred: padding, empty predictions
        inter[:n_pred] = on_gt[:, 1 : n_pred + 1].T
        area_p = np.zeros(n_rows, np.int64)
        area_p[:n_pred] = c[:, 1 : n_pred + 1].sum(0)
        J[:, :, t] = _iou(inter, on_gt.sum(1)[None], area_p[:, None])
        gb = [Boundary(g == k, r) for k in gt_ids]
        empty = Boundary(np.zeros(g.shape, bool), r)
        for j in range(n_rows):
            pb = Boundary(p == j + 1, r) if j < n_pred else empty
            F[j, :, t] = [f_from_boundaries(b, pb) for b in gb]
    score = (J.mean(axis=2) + F.mean(axis=2)) / 2
    rows, cols = linear_sum_assignment(-score)
    order = np.argsort(cols)
    return [ObjectScores(J[rows[k], cols[k]], F[rows[k], cols[k]], int(gt_ids[cols[k]])) for k in order]


@dataclass
class MosIResult:
    """MOS-I tallies for one sequence (see :func:`evaluate_mos_i`)."""

    hits: np.ndarray  # (len(MOS_I_THRESHOLDS),) summed over frames
    preds: int  # Σ_t non-empty predicted masks
    gts: int  # Σ_t moving GT objects
    j_mov: list[float] = field(default_factory=list)  # one per GT object that moves
    fp_per_frame: float = 0.0

    @property
    def mt_iou(self) -> float:
        denom = self.preds + self.gts - self.hits
        ratios = np.where(denom > 0, self.hits / np.maximum(denom, 1), 1.0)
        return float(ratios.mean())


def evaluate_mos_i(
    gt: Sequence[np.ndarray],
    gt_moving: np.ndarray | None,
    pred: Sequence[np.ndarray],
    pred_moving: np.ndarray | None = None,
) -> MosIResult:
    """MOS-I on one sequence, following the Gmos reference definitions.

    Args:
        gt: ``uint8 (T, H, W)`` GT ids 1..G (1..20), or a sequence of ``T`` frames ``(H, W)``.
        gt_moving: ``bool (G, T)``, whether GT object ``k`` moves at frame ``t``;
            ``None`` = every object moves on every frame.
        pred: ``uint8 (T, H, W)`` predicted ids 1..P (at most 20), or a sequence of frames.
        pred_moving: ``bool (P, T)`` predicted motion states, or ``None``.

    What is computed:
      1. GT object masks are emptied on frames where the object does not move;
         predicted masks on frames where the prediction says the object is
         static.
      2. Predicted ids are matched to GT ids once per sequence by Hungarian
         assignment on the frame-averaged IoU (IoU of two empty masks = 1).
         GT ids without a pixel in any frame take no part: otherwise a
         prediction that is empty on most frames would match a missing id.
      3. Per frame ``t``: ``preds_t`` = non-empty predicted masks; a GT object
         is *moving at t* when its (motion-masked) mask is non-empty;
         ``gts_t`` = moving GT objects; ``hits_k,t`` = moving GT objects whose
         matched prediction has IoU > k, for k = 0.50, 0.55, ..., 0.95.
      4. ``mtIoU = mean_k Σ_t hits_k,t / (Σ_t preds_t + Σ_t gts_t − Σ_t hits_k,t)``
         (1 when the denominator is 0: nothing to find and nothing predicted).
      5. ``J_mov``: per GT object, IoU with its match averaged over the frames
         where it moves (unmatched objects: IoU with an empty mask, i.e. 0);
         objects that never move are skipped.
      6. FP: per frame, non-empty predicted masks whose matched GT object is
         not moving then, or that matched no GT object; averaged over frames.
    """
    k = MAX_PROPOSALS + 1
    tables, seen, n_gt, n_pred = [], np.zeros(256, bool), 0, 0
    for g, p in _pairs(gt, pred):  # one pass: MOS-I needs only each frame's pixel counts
        full = _counts(g, p)
        seen |= full.any(1)
        n_pred = max(n_pred, int(np.flatnonzero(full.any(0)).max()))
        tables.append(full[:k, :k].copy())  # all of it, unless an id is past MAX_PROPOSALS: refused below
    T, n_gt = len(tables), int(np.flatnonzero(seen).max(initial=0))
    if n_pred > MAX_PROPOSALS or n_gt > MAX_PROPOSALS:
        raise MovsegError(f"MOS-I allows at most {MAX_PROPOSALS} object ids per sequence (got {max(n_pred, n_gt)})")
    occurs = np.flatnonzero(seen[1 : n_gt + 1])  # ids with pixels somewhere (synthetic ids have gaps), from 0
    g_states = _pad_states(gt_moving, n_gt, T) if gt_moving is not None else np.ones((n_gt, T), bool)
    p_states = _pad_states(pred_moving, n_pred, T) if pred_moving is not None else np.ones((n_pred, T), bool)
    g_present = np.zeros((n_gt, T), bool)  # (G, T) moving at t
    p_present = np.zeros((n_pred, T), bool)
    iou = np.zeros((n_pred, n_gt, T))
    for t, full in enumerate(tables):
        c = full[1 : n_gt + 1, 1 : n_pred + 1] * g_states[:, t, None] * p_states[None, :, t]  # (G, P); a static
        area_g = full[1 : n_gt + 1].sum(1) * g_states[:, t]  # object's mask is empty
        area_p = full[:, 1 : n_pred + 1].sum(0) * p_states[:, t]
        g_present[:, t], p_present[:, t] = area_g > 0, area_p > 0
        iou[:, :, t] = _iou(c.T, area_g[None], area_p[:, None])
    match_of_gt = np.full(n_gt, -1)
    if n_pred and len(occurs):
        rows, cols = linear_sum_assignment(-iou.mean(axis=2)[:, occurs])
        match_of_gt[occurs[cols]] = rows
    matched_iou = np.zeros((n_gt, T))  # unmatched GT: IoU with an empty mask = 0 where it moves
    for i in range(n_gt):
        if match_of_gt[i] >= 0:
            matched_iou[i] = iou[match_of_gt[i], i]
    hits = np.array([np.sum((matched_iou > k) & g_present) for k in MOS_I_THRESHOLDS], np.float64)
    j_mov = [float(matched_iou[i, g_present[i]].mean()) for i in range(n_gt) if g_present[i].any()]
    gt_of_pred = np.full(n_pred, -1)
    gt_of_pred[match_of_gt[match_of_gt >= 0]] = np.flatnonzero(match_of_gt >= 0)
    fp = np.zeros(T)
    for j in range(n_pred):
        moving_match = g_present[gt_of_pred[j]] if gt_of_pred[j] >= 0 else np.zeros(T, bool)
        fp += p_present[j] & ~moving_match
    return MosIResult(hits, int(p_present.sum()), int(g_present.sum()), j_mov, float(fp.mean()) if T else 0.0)


def _pad_states(states: np.ndarray, count: int, T: int) -> np.ndarray:
    """``bool (count, T)``: states for ids 1..count; ids without a row count as moving."""
    out = np.ones((count, T), bool)
    states = np.asarray(states, bool)
    if states.ndim != 2 or (states.size and states.shape[1] != T):
        raise MovsegError(f"motion states must be (objects, {T} frames), got {states.shape}")
    n = min(count, states.shape[0])
    out[:n] = states[:n]
    return out
