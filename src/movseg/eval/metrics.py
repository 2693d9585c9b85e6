"""Region (J) and boundary (F) measures, exactly as the DAVIS toolkit defines them.

Definitions (davis2017-evaluation, ``davis2017/metrics.py`` and ``utils.py``):

* **J** (:func:`jaccard`): ``|P ∩ G| / |P ∪ G|`` of two binary masks; 1 when
  both are empty.
* **F** (:func:`boundary_f`): boundaries are 1-pixel edge maps
  (:func:`seg2bmap`: a pixel is on the boundary when it differs from its right,
  bottom or bottom-right neighbour; in the last row only the right neighbour
  and in the last column only the bottom neighbour count; the bottom-right
  pixel never is). Each boundary is dilated with a disk of radius
  ``bound_pix = ceil(0.008 * sqrt(H² + W²))`` (8 px at 854×480).
  Precision = predicted boundary pixels within the dilated GT boundary /
  predicted boundary pixels; recall = GT boundary pixels within the dilated
  predicted boundary / GT boundary pixels; ``F = 2PR / (P + R)``, 0 when
  ``P + R = 0``. Both boundaries empty → 1; exactly one empty → 0.
* Per-sequence statistics (:func:`statistics`): mean over all frames, recall
  = fraction of frames with value > 0.5, decay = mean of the first quarter
  minus mean of the last quarter with the toolkit's binning
  (``round(linspace(1, T, 5)) - 1`` as bin edges, each bin inclusive of its
  right edge). Unlike the toolkit (which reads the edges as uint8) we use
  integers, so sequences longer than 255 frames are binned correctly.

Void pixels (DAVIS-2017 label 255) are not supported: no data we use has them.
Masks of different shapes are an error, never silently resized.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np


def _check(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"mask shapes differ: {a.shape} vs {b.shape} (nothing is resized silently)")


def jaccard(gt: np.ndarray, pred: np.ndarray) -> np.ndarray | float:
    """IoU of binary masks ``(..., H, W)``; 1 where both are empty. Returns ``(...)``."""
    _check(gt, pred)
    gt, pred = gt.astype(bool), pred.astype(bool)
    inter = np.logical_and(gt, pred).sum(axis=(-2, -1))
    union = np.logical_or(gt, pred).sum(axis=(-2, -1))
    j = np.where(union == 0, 1.0, inter / np.maximum(union, 1))
    return float(j) if j.ndim == 0 else j


def seg2bmap(mask: np.ndarray) -> np.ndarray:
    """1-pixel boundary map of a binary mask ``(H, W)`` → ``bool (H, W)`` (toolkit's ``_seg2bmap``)."""
    seg = mask.astype(bool)
    e = np.zeros_like(seg)
    s = np.zeros_like(seg)
    se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = (seg ^ e) | (seg ^ s) | (seg ^ se)
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = False
    return b


def bound_pixels(shape: tuple[int, int], bound_th: float = 0.008) -> int:
    """Tolerance radius in pixels: ``bound_th`` itself if ≥ 1, else ``ceil(bound_th * diagonal)``."""
    if bound_th >= 1:
        return int(bound_th)
    return int(math.ceil(bound_th * math.hypot(shape[0], shape[1])))


@lru_cache(maxsize=8)
def disk(radius: int) -> np.ndarray:
    """``uint8 (2r+1, 2r+1)`` disk: ones where ``x² + y² ≤ r²`` (as ``skimage.morphology.disk``)."""
    y, x = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return ((x * x + y * y) <= radius * radius).astype(np.uint8)


class Boundary:
    """A mask's boundary and its dilation, computed once and reused across pairs.

    Attributes:
        edges: ``bool (H, W)`` boundary pixels; ``dilated``: ``bool (H, W)``.
    """

    __slots__ = ("edges", "dilated", "count")

    def __init__(self, mask: np.ndarray, radius: int):
        self.edges = seg2bmap(mask)
        self.count = int(self.edges.sum())
        if self.count:
            self.dilated = cv2.dilate(self.edges.view(np.uint8), disk(radius)).astype(bool)
        else:
            self.dilated = self.edges


def f_from_boundaries(gt: Boundary, pred: Boundary) -> float:
    """Boundary F-measure of two precomputed :class:`Boundary` objects."""
    if gt.count == 0 and pred.count == 0:
        return 1.0
    if gt.count == 0 or pred.count == 0:
        return 0.0
    precision = np.count_nonzero(pred.edges & gt.dilated) / pred.count
    recall = np.count_nonzero(gt.edges & pred.dilated) / gt.count
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def boundary_f(gt: np.ndarray, pred: np.ndarray, bound_th: float = 0.008) -> np.ndarray | float:
    """Boundary F-measure of binary masks ``(H, W)`` or ``(T, H, W)``; returns a float or ``(T,)``."""
    _check(gt, pred)
    if gt.ndim == 2:
        r = bound_pixels(gt.shape, bound_th)
        return f_from_boundaries(Boundary(gt, r), Boundary(pred, r))
    r = bound_pixels(gt.shape[-2:], bound_th)
    return np.array([f_from_boundaries(Boundary(g, r), Boundary(p, r)) for g, p in zip(gt, pred)])


def statistics(values: np.ndarray) -> dict[str, float]:
    """Toolkit's per-sequence statistics of per-frame values ``(T,)``: mean, recall, decay."""
    values = np.asarray(values, np.float64)
    mean = float(np.nanmean(values))
    recall = float(np.nanmean(values > 0.5))
    edges = (np.round(np.linspace(1, len(values), 5) + 1e-10) - 1).astype(np.int64)
    bins = [values[edges[i] : edges[i + 1] + 1] for i in range(4)]
    decay = float(np.nanmean(bins[0]) - np.nanmean(bins[3]))
    return {"mean": mean, "recall": recall, "decay": decay}
