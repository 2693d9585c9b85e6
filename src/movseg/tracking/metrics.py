"""Track accuracy: TAP-Vid metrics on ground truth, and label-free membership on segmented video.

TAP-Vid (Doersch et al., 2022), as its reference evaluation computes them in
"strided" query mode: coordinates are scaled to 256×256; every frame except
the query frame is evaluated; per video,

* occlusion accuracy ``OA`` = fraction of evaluated points whose predicted
  visibility equals the ground truth's;
* for δ ∈ {1, 2, 4, 8, 16} px: ``<δ`` = fraction of GT-visible evaluated
  points predicted within δ (squared distance < δ²); ``δ_avg`` = their mean;
* Jaccard at δ = TP / (TP + FN + FP), where TP = GT-visible, predicted
  visible and within δ; FN = GT-visible but not TP; FP = predicted visible
  but GT-occluded or farther than δ; ``AJ`` = mean over δ.

Metrics are computed per video and then averaged over videos.
"""

from __future__ import annotations

import numpy as np

THRESHOLDS = (1, 2, 4, 8, 16)


def tapvid_metrics(gt_xy, gt_visible, pred_xy, pred_visible, query_frame, size) -> dict[str, float]:
    """TAP-Vid metrics of one video.

    Args:
        gt_xy, pred_xy: ``(N, T, 2)`` pixel ``(x, y)``; gt_visible, pred_visible: ``bool (N, T)``;
        query_frame: ``(N,)``; size: ``(H, W)`` of the frames (for the 256×256 scaling).

    Returns:
        ``{"AJ", "delta_avg", "OA", "delta_1", ..., "jaccard_1", ...}`` in [0, 1].
    """
    H, W = size
    scale = np.array([256.0 / W, 256.0 / H], np.float64)
    N, T = gt_visible.shape
    evaluated = np.ones((N, T), bool)
    evaluated[np.arange(N), np.asarray(query_frame, int)] = False
    gv, pv = np.asarray(gt_visible, bool), np.asarray(pred_visible, bool)
    d2 = np.sum(((np.asarray(pred_xy, np.float64) - np.asarray(gt_xy, np.float64)) * scale) ** 2, -1)
    out = {"OA": float(np.sum((gv == pv) & evaluated) / max(evaluated.sum(), 1))}
    deltas, jaccards = [], []
    for th in THRESHOLDS:
        within = d2 < th * th
        correct = within & gv
        deltas.append(np.sum(correct & evaluated) / max(np.sum(gv & evaluated), 1))
        tp = np.sum(correct & pv & evaluated)
        fp = np.sum(((~gv & pv) | (~within & pv)) & evaluated)
        jaccards.append(tp / max(np.sum(gv & evaluated) + fp, 1))
        out[f"delta_{th}"], out[f"jaccard_{th}"] = float(deltas[-1]), float(jaccards[-1])
    out["delta_avg"] = float(np.mean(deltas))
    out["AJ"] = float(np.mean(jaccards))
    return out


def membership_consistency(xy, visible, query_frame, masks, only_foreground: bool = False) -> tuple[int, int]:
    """Label-free real-video check: how many visible track points keep the foreground/background
    membership (from GT masks ``bool (T, H, W)``) they had at their query frame.

    Returns ``(consistent, total)`` over visible points inside the frame, query frames excluded;
    with ``only_foreground``, only tracks that start on the foreground count (the harder half:
    the background is most of the image).
    """
    T, H, W = masks.shape
    N = len(query_frame)
    x = np.round(xy[..., 0]).astype(int)
    y = np.round(xy[..., 1]).astype(int)
    inside = (x >= 0) & (x < W) & (y >= 0) & (y < H) & visible
    q = np.asarray(query_frame, int)
    qx, qy = x[np.arange(N), q], y[np.arange(N), q]
    q_in = (qx >= 0) & (qx < W) & (qy >= 0) & (qy < H)
    ref = np.zeros(N, bool)
    ref[q_in] = masks[q[q_in], qy[q_in], qx[q_in]]
    tt = np.broadcast_to(np.arange(T), (N, T))
    use = inside & q_in[:, None] & (tt != q[:, None])
    if only_foreground:
        use &= ref[:, None]
    member = masks[tt[use], y[use], x[use]]
    return int(np.sum(member == np.broadcast_to(ref[:, None], (N, T))[use])), int(use.sum())
