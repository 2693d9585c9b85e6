"""One id per object across the overlapping segments of a long video.

A long video is segmented in overlapping pieces (:func:`movseg.pipeline.segment_video`), each with its own
tracks and its own object ids. :class:`Stitcher` gives each segment's objects the ids of the objects they
cover on the frames the segment shares with the one before it (and the parts of an object that a segment
splits apart, or an object that the segment before found only in part, the id of that object), and new ids to
the others.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

MAX_ID = 255  # masks are 8-bit indexed PNGs


def match_objects(before: np.ndarray, after: np.ndarray, min_iou: float = 0.3,
                  min_inside: float = 0.5) -> dict[int, int]:
    """``{id in after: id in before}`` for the objects that are the same in two labellings of the same frames.

    Args:
        before, after: ``uint8 (O, H, W)`` object ids of the frames two segments share (0 = background).
        min_iou: pairs whose IoU, with pixels summed over the ``O`` frames, is lower are not the same object.
        min_inside: an ``after`` object left unmatched takes the id of the ``before`` object it shares most
            pixels with when the smaller of the two has at least this share of its pixels on the other.

    Each id is matched at most once (Hungarian assignment on the IoU). Then an object left over that is a part
    of an object of ``before`` (a dancer's legs, grouped apart from the body this time) or holds one (a bear that
    ``before`` found only in part, too little for the IoU) takes its id: one object keeps one id.
    """
    joint = np.bincount(before.ravel().astype(np.int64) * 256 + after.ravel(), minlength=256 * 256).reshape(256, 256)
    inter = joint[1:, 1:].astype(np.float64)  # [before - 1, after - 1]
    area_b, area_a = inter.sum(1) + joint[1:, 0], inter.sum(0) + joint[0, 1:]
    union = area_b[:, None] + area_a[None, :] - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    rows, cols = linear_sum_assignment(-iou)
    matched = {int(c) + 1: int(r) + 1 for r, c in zip(rows, cols) if iou[r, c] >= min_iou}
    smaller = np.minimum(area_b[:, None], area_a[None, :])
    inside = np.divide(inter, smaller, out=np.zeros_like(inter), where=smaller > 0)  # share of the smaller one
    best = inter.argmax(0)  # (255,): the before object that shares most pixels with each after object
    for c in np.flatnonzero(inside[best, np.arange(255)] >= min_inside):
        matched.setdefault(int(c) + 1, int(best[c]) + 1)
    return matched


class Stitcher:
    """Turns each segment's object ids into ids that hold over the whole video.

    Feed the segments in order to :meth:`ids`; each segment after the first shares at least ``overlap``
    frames with the one before, and the last ``overlap`` of those decide which objects are the same. Ids
    are handed out in order of first appearance; objects past :data:`MAX_ID` are dropped (``dropped``
    counts them).
    """

    def __init__(self, overlap: int, min_iou: float = 0.3):
        self.overlap, self.min_iou = overlap, min_iou
        self.count = 0  # global ids handed out
        self.dropped = 0
        self._tail: np.ndarray | None = None  # uint8 (overlap, H, W): the last segment's final frames, global ids

    def ids(self, labels: np.ndarray, shared: int = 0, new_from: int = 0) -> np.ndarray:
        """``uint8 (256,)`` lookup table from the segment's ids to global ids (0 stays 0), for ``labels``
        ``uint8 (T, H, W)`` (the segment's ids 1..K) whose frames ``shared``, ``shared + 1``, ... are the last
        ``overlap`` frames of the segment before (default: its first frames). An object that matches none of
        the segment before gets a new id only if it has pixels from frame ``new_from`` on (the frames this
        segment writes, and later ones): an id must not be handed out to an object no mask shows."""
        lut = np.zeros(256, np.uint8)
        matched = {}
        if self._tail is not None:
            matched = match_objects(self._tail, labels[shared:shared + self.overlap], self.min_iou)
        shown = np.bincount(labels[new_from:].ravel(), minlength=256) > 0
        for k in range(1, int(labels.max(initial=0)) + 1):
            if k in matched:
                lut[k] = matched[k]
            elif not shown[k]:
                continue
            elif self.count < MAX_ID:
                self.count += 1
                lut[k] = self.count
            else:
                self.dropped += 1
        self._tail = lut[labels[len(labels) - self.overlap:]] if self.overlap else None
        return lut
