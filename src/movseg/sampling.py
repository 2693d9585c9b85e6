"""Bilinear sampling of images and fields at arbitrary points (OpenCV remap, any number of points)."""

from __future__ import annotations

import cv2
import numpy as np

_COLS = 1024  # remap's maps must stay under 32767 px per side: lay points out in rows


def sample_bilinear(img: np.ndarray, x: np.ndarray, y: np.ndarray, border: int = cv2.BORDER_REPLICATE,
                    value: float = 0.0) -> np.ndarray:
    """Sample ``img`` ``(H, W)`` or ``(H, W, C)`` at points ``x, y`` (any equal shapes, pixel centres at integers).

    Returns ``float32`` of shape ``x.shape`` (+ ``(C,)`` for multi-channel images).
    ``border`` is an OpenCV border mode (``BORDER_WRAP`` tiles textures).
    """
    shape = np.shape(x)
    xf = np.asarray(x, np.float32).ravel()
    yf = np.asarray(y, np.float32).ravel()
    n = xf.size
    rows = max(1, -(-n // _COLS))
    pad = rows * _COLS - n
    mx = np.pad(xf, (0, pad)).reshape(rows, _COLS)
    my = np.pad(yf, (0, pad)).reshape(rows, _COLS)
    src = img if img.dtype == np.float32 else img.astype(np.float32)
    out = cv2.remap(src, mx, my, cv2.INTER_LINEAR, borderMode=border, borderValue=value)
    channels = () if img.ndim == 2 else (img.shape[2],)
    return out.reshape(-1, *channels)[:n].reshape(*shape, *channels)
