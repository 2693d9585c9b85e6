"""Shared test helpers: small synthetic clips with known answers."""

from __future__ import annotations

import numpy as np
import pytest


def textured(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth random texture ``uint8 (h, w, 3)`` that optical flow can lock onto."""
    import cv2

    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (h // 4 + 1, w // 4 + 1, 3), dtype=np.uint8)
    img = cv2.resize(base, (w, h), interpolation=cv2.INTER_CUBIC)
    return cv2.GaussianBlur(img, (3, 3), 0)


def moving_square_clip(T: int = 8, h: int = 96, w: int = 128, size: int = 28, speed: int = 3, seed: int = 0):
    """A static textured background and one textured square moving right.

    Returns (frames ``uint8 (T, h, w, 3)``, gt labels ``uint8 (T, h, w)``).
    """
    bg = textured(h, w, seed)
    fg = textured(size, size, seed + 1)
    frames = np.repeat(bg[None], T, axis=0)
    labels = np.zeros((T, h, w), np.uint8)
    y0 = h // 2 - size // 2
    for t in range(T):
        x0 = 10 + speed * t
        frames[t, y0 : y0 + size, x0 : x0 + size] = fg
        labels[t, y0 : y0 + size, x0 : x0 + size] = 1
    return frames, labels


def two_shot_clip(T: int = 8) -> np.ndarray:
    """Two shots of ``T`` frames, each a square moving over its own background, cut at frame ``T``:
    ``uint8 (2T, 96, 128, 3)``. The second background is fine-grained noise (the smooth textures of
    :func:`textured` are alike enough that flow matches half of the points across a cut between two of them)."""
    a, _ = moving_square_clip(T=T, seed=0)
    b, square = moving_square_clip(T=T, seed=7)
    b = np.where(square[..., None] > 0, b, np.random.default_rng(3).integers(0, 256, b.shape[1:], np.uint8))
    return np.concatenate([a, b])


@pytest.fixture
def square_clip():
    return moving_square_clip()


def write_frames(folder, frames, ext: str = "png", pattern: str = "{:05d}") -> list:
    """Write RGB frames as images named by ``pattern``; returns the paths."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, f in enumerate(frames):
        p = folder / f"{pattern.format(i)}.{ext}"
        cv2.imwrite(str(p), f[:, :, ::-1])
        paths.append(p)
    return paths
