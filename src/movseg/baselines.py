"""Reference segmenters kept for comparison tables: ``empty`` and ``flow-residual``.

They are honest baselines, not the movseg method: ``empty`` predicts all
background; ``flow-residual`` thresholds the part of the dense optical flow
that the dominant camera motion (a homography) does not explain.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from movseg.flow import DISFlow, fit_homography, homography_flow, to_gray
from movseg.types import Segmentation, Video


def segment_empty(video: Video) -> Segmentation:
    """All background."""
    return Segmentation.empty(video.num_frames, video.height, video.width)


@dataclass
class FlowResidualConfig:
    work_side: int = 427  # longest side at which flow is computed (px)
    preset: str = "medium"  # DIS preset
    min_residual: float = 1.0  # px at work resolution: residual flow below this is never motion
    mad_factor: float = 4.0  # ... nor below median + mad_factor * MAD of the frame's residuals
    min_area: float = 0.002  # connected components smaller than this fraction of the frame are dropped


def segment_flow_residual(video: Video, cfg: FlowResidualConfig | None = None) -> Segmentation:
    """Foreground = pixels whose flow the fitted camera homography does not explain.

    Per frame ``t``: DIS flow to ``t+1`` (the last frame uses ``t-1``), a RANSAC
    homography fitted to it, the residual magnitude, averaged with the
    neighbouring frames' residuals, thresholded robustly, cleaned
    morphologically. One object (id 1), moving wherever it is present.
    """
    cfg = cfg or FlowResidualConfig()
    T, H, W = video.num_frames, video.height, video.width
    if T < 2:
        return segment_empty(video)
    s = min(1.0, cfg.work_side / max(H, W))
    size = (max(8, round(W * s)), max(8, round(H * s)))
    gray = [cv2.resize(to_gray(f), size, interpolation=cv2.INTER_AREA) for f in video.frames]
    flow = DISFlow(cfg.preset)
    residuals = []
    for t in range(T - 1):
        f = flow(gray[t], gray[t + 1])
        Hm = fit_homography(f)
        residuals.append(np.linalg.norm(f - homography_flow(Hm, size[1], size[0]), axis=2))
    residuals.append(residuals[-1])  # last frame: the motion it shares with its predecessor
    res = np.stack(residuals)  # (T, h, w)
    smooth = res.copy()
    smooth[1:] += res[:-1]
    smooth[:-1] += res[1:]
    counts = np.full(T, 3.0)
    counts[0] = counts[-1] = 2.0
    smooth /= counts[:, None, None]
    labels = np.zeros((T, H, W), np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    for t in range(T):
        r = smooth[t]
        med = np.median(r)
        mad = np.median(np.abs(r - med)) + 1e-6
        fg = (r > max(cfg.min_residual, med + cfg.mad_factor * mad)).astype(np.uint8)
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, kernel)
        fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, kernel)
        n, comp, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
        keep = np.zeros(n, np.uint8)
        keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= cfg.min_area * fg.size
        fg = keep[comp]
        labels[t] = cv2.resize(fg, (W, H), interpolation=cv2.INTER_NEAREST)
    present = labels.any(axis=(1, 2))
    if not present.any():
        return Segmentation(labels, np.zeros((0, T), bool))
    return Segmentation(labels, present[None, :].copy())


METHODS = {
    "empty": segment_empty,
    "flow-residual": segment_flow_residual,
}
