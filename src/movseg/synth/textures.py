"""Procedural textures and silhouettes (numpy + OpenCV, seeded, no files)."""

from __future__ import annotations

import cv2
import numpy as np

# natural palettes as HSV ranges (h in [0, 180) as OpenCV, s and v in [0, 255])
PALETTES = {
    "earth": ((5, 30), (40, 160), (50, 200)),
    "foliage": ((30, 80), (60, 200), (40, 190)),
    "stone": ((0, 180), (0, 40), (70, 210)),
    "water": ((85, 115), (50, 200), (60, 220)),
    "vivid": ((0, 180), (150, 255), (120, 255)),
    "skin": ((5, 20), (60, 150), (120, 230)),
    "urban": ((0, 180), (10, 90), (40, 230)),
}


def _colours(rng: np.random.Generator, palette: str, n: int) -> np.ndarray:
    (h0, h1), (s0, s1), (v0, v1) = PALETTES[palette]
    hsv = np.stack([rng.uniform(h0, h1, n), rng.uniform(s0, s1, n), rng.uniform(v0, v1, n)], 1)
    return cv2.cvtColor(hsv.astype(np.uint8)[None], cv2.COLOR_HSV2RGB)[0].astype(np.float32)


def value_noise(rng: np.random.Generator, size: int, octaves: int = 5, persistence: float = 0.55, first: int = 2) -> np.ndarray:
    """Multi-scale smooth noise ``float32 (size, size)`` in [0, 1], tileable; the coarsest
    octave has ``2**first`` cells per side."""
    out = np.zeros((size, size), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cells = min(2 ** (o + first), size)
        grid = rng.random((cells, cells)).astype(np.float32)
        k = size // cells  # pixels per cell
        grid = np.pad(grid, 2, mode="wrap")  # wrap two cells around: seamless edges after the crop
        big = cv2.resize(grid, ((cells + 4) * k, (cells + 4) * k), interpolation=cv2.INTER_CUBIC)
        out += amp * big[2 * k : 2 * k + size, 2 * k : 2 * k + size]
        total += amp
        amp *= persistence
    out /= total
    lo, hi = out.min(), out.max()
    return (out - lo) / max(hi - lo, 1e-6)


def texture(rng: np.random.Generator, size: int = 128, palette: str | None = None, kind: str | None = None) -> np.ndarray:
    """A random texture ``uint8 (size, size, 3)`` RGB.

    Kinds: ``noise`` (multi-scale colour noise), ``stripes``, ``blotches``,
    ``gradient``, ``checker``, ``flat`` (low texture: almost uniform).
    """
    palette = palette or rng.choice(list(PALETTES))
    kind = kind or rng.choice(["noise", "noise", "stripes", "blotches", "blotches", "gradient", "checker", "flat"],)
    c = _colours(rng, palette, 4)
    n = value_noise(rng, size)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    if kind == "noise":
        m = value_noise(rng, size)
        img = c[0] * (1 - n[..., None]) + c[1] * n[..., None]
        img = img * (0.75 + 0.5 * m[..., None])
    elif kind == "stripes":
        f = rng.integers(2, 9)  # whole periods so the texture tiles
        a = rng.integers(0, 2, 2) if rng.random() < 0.5 else np.array([1, 0])
        phase = 2 * np.pi * f * (a[0] * xx + (1 - a[0]) * yy) + 2.0 * n
        s = (np.sin(phase) > rng.uniform(-0.5, 0.5)).astype(np.float32)
        s = cv2.GaussianBlur(s, (0, 0), 1.0)
        img = c[0] * s[..., None] + c[1] * (1 - s[..., None])
        img *= 0.85 + 0.3 * value_noise(rng, size, 4)[..., None]
    elif kind == "blotches":
        m = value_noise(rng, size, 4)
        img = np.where((n > 0.55)[..., None], c[0], np.where((m > 0.5)[..., None], c[1], c[2]))
        img = cv2.GaussianBlur(img, (0, 0), 1.2) * (0.8 + 0.4 * value_noise(rng, size, 3)[..., None])
    elif kind == "gradient":
        g = (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1))
        g = (g - g.min()) / max(float(np.ptp(g)), 1e-6)
        img = c[0] * (1 - g[..., None]) + c[1] * g[..., None]
        img *= 0.85 + 0.3 * n[..., None]
    elif kind == "checker":
        k = rng.integers(2, 8)
        s = ((np.floor(xx * k) + np.floor(yy * k)) % 2).astype(np.float32)
        img = c[0] * s[..., None] + c[1] * (1 - s[..., None])
        img *= 0.85 + 0.3 * n[..., None]
    else:  # flat: low texture
        img = c[0] * (0.95 + 0.1 * n[..., None])
        return np.clip(img, 0, 255).astype(np.uint8)
    # fine grain (gravel, fabric, bark): what trackers lock onto in real video
    grain = value_noise(rng, size, 3, 0.6, first=max(3, int(np.log2(size)) - 3))
    img = img * (1 + rng.uniform(0.1, 0.35) * (grain[..., None] - 0.5))
    return np.clip(img, 0, 255).astype(np.uint8)


def add_grain(rng: np.random.Generator, tex: np.ndarray, strength: float) -> np.ndarray:
    """``tex`` ``(h, w, 3)`` with multiplicative texel-scale grain of standard deviation ``strength``
    (``float32``, clipped to [0, 255])."""
    g = cv2.GaussianBlur(rng.random(tex.shape[:2]).astype(np.float32), (0, 0), 0.6)
    g = (g - g.mean()) / (g.std() + 1e-6)
    return np.clip(tex.astype(np.float32) * (1 + strength * g[..., None]), 0, 255)


def silhouette(rng: np.random.Generator, size: int = 128, smooth: float | None = None) -> np.ndarray:
    """A random smooth closed shape ``float32 (size, size)`` alpha in [0, 1] (1 inside).

    A star-shaped contour: radius as a low-order Fourier series of the angle.
    """
    smooth = rng.uniform(0.1, 0.35) if smooth is None else smooth
    theta = np.linspace(0, 2 * np.pi, 180, endpoint=False)
    r = np.ones_like(theta)
    for k in range(1, 6):
        r += smooth / k * rng.normal() * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    r = np.clip(r, 0.35, None)
    r /= r.max()
    pts = np.stack([np.cos(theta) * r, np.sin(theta) * r], 1) * (size / 2 - 2) + size / 2
    alpha = np.zeros((size * 4, size * 4), np.uint8)  # 4x supersampling for anti-aliased edges
    cv2.fillPoly(alpha, [np.round(pts * 4).astype(np.int32)], 255)
    return cv2.resize(alpha, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def rect_alpha(size: int = 128) -> np.ndarray:
    """A full square alpha (boxes, walls, signs)."""
    return np.ones((size, size), np.float32)


def mip_levels(tex: np.ndarray, levels: int = 4) -> list[np.ndarray]:
    """Blurred, downsampled copies of a texture for distant surfaces (level 0 = full)."""
    out = [tex.astype(np.float32)]
    for _ in range(levels - 1):
        out.append(cv2.pyrDown(out[-1]))
    return out
