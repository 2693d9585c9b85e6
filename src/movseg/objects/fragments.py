"""Merge fragments of one object: masks that stay in contact along a long seam are one object.

SegAnyMo's second stage merges SAM2 masks that overlap or lie inside one another. The weight-free
segmenter returns non-overlapping masks, so the analogue here is contact: a limb, a wing or a body
part whose tracks the grouping left apart (it moves differently, or a weak cut separated it) is
masked right beside the body, on most of the frames where both appear. Two objects that move
together but apart (the papers' "fine-grained" case) never touch, and two that pass each other quickly
touch on a few frames only, so both stay apart. Two distinct objects that stay in contact (one slowly
crossing in front of the other) are merged as well, so `movseg segment` leaves this off unless asked
(``--merge-fragments``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class FragmentConfig:
    # two objects are one when their masks touch (within `radius` px at 854 px longer side) on at least
    # `min_touch` of the frames where both have pixels, and the median seam over those frames (pixels of
    # either mask within `radius` of the other, 0 on frames where they do not touch) is at least
    # `min_seam` * sqrt(area of the smaller mask). 0 = never merge. Chosen on DAVIS dev and the synthetic
    # validation scenes: fragments of one DAVIS object touch on 50-100 % of their frames; distinct
    # synthetic objects on up to 67 % when masked from ground-truth track labels (docs/benchmarks.md,
    # "Fragments of one object")
    min_touch: float = 0.7
    min_seam: float = 0.5
    radius: float = 3.0


def merge_fragments(labels: np.ndarray, num_objects: int, config: FragmentConfig | None = None) -> np.ndarray:
    """``int (K + 1,)`` the id each object ``0..K`` becomes (0 stays 0): every set of fragments joins its
    lowest id (the grouping numbers objects by size, so the largest). Objects without pixels stay.

    Args:
        labels: ``uint8 (T, H, W)`` object ids ``0..K``, 0 = background. num_objects: ``K``.
    """
    cfg = config or FragmentConfig()
    K = num_objects
    parent = np.arange(K + 1)
    if K < 2 or cfg.min_touch <= 0:
        return parent
    r = max(1, round(cfg.radius * max(labels.shape[1:]) / 854))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    T = len(labels)
    area = np.zeros((K + 1, T))
    seam = np.zeros((K + 1, K + 1, T))  # seam[a, b, t]: pixels of b within r of a
    for t in range(T):
        lab = labels[t]
        ids = np.unique(lab)
        ids = ids[ids > 0]
        if len(ids) < 2:
            area[ids, t] = (lab > 0).sum()
            continue
        for a in ids:
            ys, xs = np.nonzero(lab == a)
            area[a, t] = len(ys)
            y0, y1 = max(ys.min() - r, 0), ys.max() + r + 1
            x0, x1 = max(xs.min() - r, 0), xs.max() + r + 1
            crop = lab[y0:y1, x0:x1]
            near = crop[cv2.dilate((crop == a).astype(np.uint8), disk).astype(bool)]
            seam[a, :, t] = np.bincount(near, minlength=K + 1)[: K + 1]
    present = area > 0
    for a in range(1, K + 1):
        for b in range(a + 1, K + 1):
            both = present[a] & present[b]
            if not both.any():
                continue
            contact = (seam[a, b] + seam[b, a])[both]
            rel = contact / np.sqrt(np.minimum(area[a, both], area[b, both]))
            if (contact > 0).mean() >= cfg.min_touch and np.median(rel) >= cfg.min_seam:
                ra, rb = _root(parent, a), _root(parent, b)
                parent[max(ra, rb)] = min(ra, rb)
    return np.array([_root(parent, k) for k in range(K + 1)])


def join_fragments(labels: np.ndarray, object_id: np.ndarray, config: FragmentConfig | None = None):
    """``(labels, object_id)`` with every set of fragments (:func:`merge_fragments`) under one id.

    Args:
        labels: ``uint8 (T, H, W)`` object ids, 0 = background. object_id: ``int (N,)`` per track.
    """
    same = merge_fragments(labels, int(object_id.max(initial=0)), config)
    return same.astype(np.uint8)[labels], same[object_id].astype(np.int32)


def _root(parent: np.ndarray, k: int) -> int:
    while parent[k] != k:
        k = parent[k]
    return k
