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


def evaluate_mos(gt: np.ndarray, pred: np.ndarray) -> list[ObjectScores]:
    """MOS protocol: foreground = any non-zero id. Returns one :class:`ObjectScores`."""
    if gt.shape != pred.shape:
        raise MovsegError(f"prediction is {pred.shape[1:]} but ground truth is {gt.shape[1:]} (nothing is resized silently)")
    g, p = gt > 0, pred > 0
    return [ObjectScores(np.atleast_1d(jaccard(g, p)), np.atleast_1d(boundary_f(g, p)))]


def _objects(labels: np.ndarray, count: int) -> list[np.ndarray]:
    """One ``bool (T, H, W)`` mask stack per id 1..count."""
    return [labels == k for k in range(1, count + 1)]


def evaluate_fine(gt: np.ndarray, pred: np.ndarray) -> list[ObjectScores]:
    """DAVIS-2017 unsupervised protocol: one :class:`ObjectScores` per GT object (the ids that occur, ascending)."""
    if gt.shape != pred.shape:
        raise MovsegError(f"prediction is {pred.shape[1:]} but ground truth is {gt.shape[1:]} (nothing is resized silently)")
    n_pred = int(pred.max(initial=0))
    if n_pred > MAX_PROPOSALS:
        raise MovsegError(f"prediction uses object id {n_pred}: at most {MAX_PROPOSALS} objects are allowed per sequence")
    gt_ids = np.unique(gt)
    gt_ids = gt_ids[gt_ids > 0]
    gt_obj = [gt == k for k in gt_ids]  # the objects that occur (see the module docstring)
    n_gt = len(gt_obj)
    if n_gt == 0:
        return []
    n_rows = max(n_pred, n_gt)
    T = gt.shape[0]
    r = bound_pixels(gt.shape[1:])
    gt_b = [[Boundary(gt_obj[i][t], r) for t in range(T)] for i in range(n_gt)]
    empty = Boundary(np.zeros(gt.shape[1:], bool), r)
    J = np.zeros((n_rows, n_gt, T))
    F = np.zeros((n_rows, n_gt, T))
    for j in range(n_rows):
        if j < n_pred:
            pm = pred == j + 1
            pb = [Boundary(pm[t], r) for t in range(T)]
        else:  # padding: an empty prediction
            pb, pm = [empty] * T, np.zeros_like(gt_obj[0])
        for i in range(n_gt):
            J[j, i] = jaccard(gt_obj[i], pm)
            F[j, i] = [f_from_boundaries(gt_b[i][t], pb[t]) for t in range(T)]
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
    gt: np.ndarray,
    gt_moving: np.ndarray | None,
    pred: np.ndarray,
    pred_moving: np.ndarray | None = None,
) -> MosIResult:
    """MOS-I on one sequence, following the Gmos reference definitions.

    Args:
        gt: ``uint8 (T, H, W)`` GT ids 1..G (1..20).
        gt_moving: ``bool (G, T)``, whether GT object ``k`` moves at frame ``t``;
            ``None`` = every object moves on every frame.
        pred: ``uint8 (T, H, W)`` predicted ids 1..P (at most 20).
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
    if gt.shape != pred.shape:
        raise MovsegError(f"prediction is {pred.shape[1:]} but ground truth is {gt.shape[1:]} (nothing is resized silently)")
    T = gt.shape[0]
    n_gt, n_pred = int(gt.max(initial=0)), int(pred.max(initial=0))
    if n_pred > MAX_PROPOSALS or n_gt > MAX_PROPOSALS:
        raise MovsegError(f"MOS-I allows at most {MAX_PROPOSALS} object ids per sequence (got {max(n_pred, n_gt)})")
    g = _objects(gt, n_gt)
    occurs = np.flatnonzero([m.any() for m in g])  # ids with pixels somewhere (synthetic ids have gaps)
    g_states = _pad_states(gt_moving, n_gt, T) if gt_moving is not None else np.ones((n_gt, T), bool)
    p_states = _pad_states(pred_moving, n_pred, T) if pred_moving is not None else np.ones((n_pred, T), bool)
    for i in range(n_gt):
        g[i] &= g_states[i][:, None, None]
    g_present = np.array([m.any(axis=(1, 2)) for m in g], bool).reshape(n_gt, T)  # (G, T) moving at t
    p_present = np.zeros((n_pred, T), bool)
    iou = np.zeros((n_pred, n_gt, T))
    for j in range(n_pred):
        p = (pred == j + 1) & p_states[j][:, None, None]  # (T, H, W)
        p_present[j] = p.any(axis=(1, 2))
        for i in range(n_gt):
            iou[j, i] = jaccard(g[i], p)
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
