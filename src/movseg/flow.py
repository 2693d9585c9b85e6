"""Dense optical flow (OpenCV DIS) and the dominant (camera) motion it implies."""

from __future__ import annotations

import cv2
import numpy as np

_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def to_gray(frame: np.ndarray) -> np.ndarray:
    """``uint8 (H, W, 3)`` RGB → ``uint8 (H, W)``."""
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


class DISFlow:
    """Dense flow between two grayscale frames with OpenCV's DIS.

    ``flow(a, b)`` returns ``float32 (H, W, 2)`` displacements (dx, dy) such
    that pixel (x, y) of ``a`` maps to (x + dx, y + dy) in ``b``. ``finest_scale`` overrides the preset's
    finest pyramid level (0: full size).
    """

    def __init__(self, preset: str = "medium", finest_scale: int | None = None):
        if preset not in _PRESETS:
            raise ValueError(f"unknown DIS preset {preset!r}: choose one of {', '.join(_PRESETS)}")
        self._dis = cv2.DISOpticalFlow_create(_PRESETS[preset])
        if finest_scale is not None:  # the finest pyramid level computed (0: full size; medium's own is 1, half size)
            self._dis.setFinestScale(finest_scale)

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self._dis.calc(a, b, None)


def fit_homography(flow: np.ndarray, step: int = 8, threshold: float = 1.0, mask: np.ndarray | None = None):
    """Fit the dominant motion of a flow field as a homography, robustly (RANSAC).

    Args:
        flow: ``float32 (H, W, 2)``.
        step: sample the flow on a grid every ``step`` px.
        threshold: RANSAC reprojection threshold in px.
        mask: optional ``bool (H, W)`` of pixels allowed as samples.

    Returns:
        ``float64 (3, 3)`` homography mapping (x, y) of the first frame to the
        second; identity when the fit fails (too few or degenerate samples).
    """
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[step // 2 : h : step, step // 2 : w : step]
    if mask is not None:
        keep = mask[ys, xs]
        ys, xs = ys[keep], xs[keep]
    src = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)  # (M, 2) x, y
    dst = src + flow[ys.ravel(), xs.ravel()]
    if len(src) < 8:
        return np.eye(3)
    H, _ = cv2.findHomography(src, dst, cv2.RANSAC, threshold, maxIters=500, confidence=0.99)
    return H if H is not None else np.eye(3)


def homography_flow(H: np.ndarray, height: int, width: int) -> np.ndarray:
    """The flow field ``float32 (H, W, 2)`` that homography ``H`` induces."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    pts = np.stack([xs, ys], -1).reshape(-1, 1, 2)
    warped = cv2.perspectiveTransform(pts, H).reshape(height, width, 2)
    return warped - np.stack([xs, ys], -1)
