"""Per-track cues computed from the video and the tracks, without any pretrained weights.

:func:`track_cues` turns :class:`~movseg.types.Tracks` into the arrays the
track transformer reads:

- ``points float32 (N, T, F)`` per track and frame, channels :data:`POINT_CHANNELS`
  (+ :data:`DEPTH_CHANNELS` when a depth map is given);
- ``valid bool (N, T)``: the point is visible with confidence ≥ ``min_confidence``;
  every channel of an invalid point is 0, and no channel of a valid point
  depends on an invalid one (differences and residuals need both ends valid);
- ``appearance float32 (N, A)``: a weight-free appearance descriptor per track,
  channels :data:`APPEARANCE_CHANNELS`.

Geometric cues are what the paper does not have: each frame's dominant
(camera) motion is fitted robustly on the valid track points (a homography and
a fundamental matrix, RANSAC), and every point gets its residual against it.
Residuals are in thousandths of the frame's longer side, ``log1p``-compressed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from movseg.sampling import sample_bilinear
from movseg.types import Tracks, Video

POINT_CHANNELS = ("u", "v", "du", "dv", "visible", "confidence", "res_h1", "res_hk", "res_fk")
DEPTH_CHANNELS = ("depth", "ddepth")
APPEARANCE_CHANNELS = ("L", "a", "b", "std_L", "std_a", "std_b", "grad")


@dataclass
class CueConfig:
    min_confidence: float = 0.1  # points below this confidence are treated as invisible
    gap: int = 4  # frame gap k of the longer-range residuals res_hk / res_fk
    fit_points: int = 1500  # at most this many points per frame pair feed the RANSAC fits
    # A cell of a fit_grid x fit_grid partition of the frame gives the fits at most fit_cap times its even share
    # of the points (0: no grid, a uniform draw). A moving object that the camera follows keeps its tracks while
    # the background's leave the view, so it can hold most of the points and RANSAC takes its motion for the
    # camera's (looped drift-turn: the car holds 38 % of the points on a few % of the frame)
    fit_grid: int = 8
    fit_cap: float = 3.0
    ransac_px: float = 1.5  # RANSAC inlier threshold, px at 854 px longer side (scaled with the frame)
    appearance_frames: int = 8  # sample the appearance descriptor on at most this many frames
    patch: int = 7  # side of the box window of the appearance statistics, px at 854 px longer side
    seed: int = 0  # seeds the choice of fitting points


@dataclass
class TrackCues:
    """Inputs of the track transformer for one video (see module docstring)."""

    points: np.ndarray  # (N, T, F) float32
    valid: np.ndarray  # (N, T) bool
    appearance: np.ndarray  # (N, A) float32

    def subset(self, idx) -> "TrackCues":
        """The tracks ``idx`` (an index or mask over N)."""
        return TrackCues(self.points[idx], self.valid[idx], self.appearance[idx])

    def frames(self, window: slice) -> "TrackCues":
        """All tracks over the frames ``window`` (the per-track appearance is kept)."""
        return TrackCues(self.points[:, window], self.valid[:, window], self.appearance)


def track_cues(video: Video, tracks: Tracks, config: CueConfig | None = None,
               depth: np.ndarray | None = None) -> TrackCues:
    """Cues of ``tracks`` on ``video``; ``depth`` ``float32 (T, H, W)`` adds the depth channels."""
    cfg = config or CueConfig()
    valid = tracks.visible & (tracks.confidence >= cfg.min_confidence)  # (N, T)
    h, w = video.height, video.width
    side = float(max(h, w))
    n, t = valid.shape
    # written channel by channel into one float32 array: a float64 stack of all channels would be ~5x
    # the size of the result (0.45 GB for 10,000 tracks x 270 frames)
    points = np.zeros((n, t, len(POINT_CHANNELS) + (len(DEPTH_CHANNELS) if depth is not None else 0)), np.float32)
    for c, size in enumerate((w, h)):  # u, v in [-1, 1]; du, dv in 2 / longer side units, both ends valid
        x = tracks.xy[..., c].astype(np.float64)  # (N, T) pixels
        points[..., c] = x / size * 2 - 1
        points[:, 1:, 2 + c] = (x[:, 1:] - x[:, :-1]) / side * 2
    points[:, 1:, 2:4][~(valid[:, 1:] & valid[:, :-1])] = 0
    points[..., 4] = valid
    points[..., 5] = tracks.confidence
    points[..., 6:9] = geometric_residuals(tracks.xy, valid, (h, w), cfg)  # (N, T, 3)
    if depth is not None:
        points[..., 9:11] = _depth_channels(depth, tracks.xy, valid)
    points[~valid] = 0
    return TrackCues(points, valid, appearance_descriptor(video, tracks.xy, valid, cfg))


def geometric_residuals(xy: np.ndarray, valid: np.ndarray, size: tuple[int, int], cfg: CueConfig) -> np.ndarray:
    """``float32 (N, T, 3)``: residual of each valid point against the camera motion fitted between
    frames ``t-1 → t`` (homography), ``t-k → t`` (homography) and ``t-k → t`` (Sampson distance to the
    fundamental matrix); 0 where either end is invalid or the fit fails. ``k`` = ``cfg.gap``, clipped.
    ``size`` is the frame's ``(H, W)``."""
    n, t = valid.shape
    out = np.zeros((n, t, 3), np.float32)
    rng = np.random.default_rng(cfg.seed)
    side = float(max(size))
    thr = cfg.ransac_px * side / 854.0
    scale = 1000.0 / side  # px → thousandths of the longer side
    for f in range(1, t):
        for ch, k in ((0, 1), (1, min(cfg.gap, f))):
            both = np.flatnonzero(valid[:, f] & valid[:, f - k])
            if len(both) < 8:
                continue
            a, b = xy[both, f - k].astype(np.float32), xy[both, f].astype(np.float32)
            sel = fitting_points(a, size, cfg, rng)
            H, _ = cv2.findHomography(a[sel], b[sel], cv2.RANSAC, thr, maxIters=500, confidence=0.995)
            if H is not None:
                pred = cv2.perspectiveTransform(a.reshape(-1, 1, 2), H).reshape(-1, 2)
                out[both, f, ch] = np.log1p(np.linalg.norm(pred - b, axis=1) * scale)
            if ch == 1:
                F, _ = cv2.findFundamentalMat(a[sel], b[sel], cv2.FM_RANSAC, thr, 0.995, 500)
                if F is not None and F.shape == (3, 3):
                    out[both, f, 2] = np.log1p(np.sqrt(_sampson(F, a, b)) * scale)
    return out


def fitting_points(xy: np.ndarray, size: tuple[int, int], cfg: CueConfig, rng: np.random.Generator) -> np.ndarray:
    """Indices of the points ``xy`` ``(M, 2)`` that feed a camera-motion fit: at most ``cfg.fit_points``, drawn
    uniformly after each cell of the ``cfg.fit_grid`` grid has given at most ``cfg.fit_cap`` times its even
    share (the points over the occupied cells), so that no compact region outvotes the rest of the frame."""
    m = len(xy)
    keep = np.arange(m)
    if cfg.fit_grid > 0:
        g, (h, w) = cfg.fit_grid, size
        cx = np.clip((xy[:, 0] * g / w).astype(int), 0, g - 1)
        cy = np.clip((xy[:, 1] * g / h).astype(int), 0, g - 1)
        cells = cy * g + cx
        order = rng.permutation(m)
        order = order[np.argsort(cells[order], kind="stable")]  # cell by cell, in random order within each
        cell = cells[order]
        starts = np.r_[0, np.flatnonzero(np.diff(cell)) + 1]  # first position of each occupied cell
        rank = np.arange(m) - np.repeat(starts, np.diff(np.r_[starts, m]))  # position within the cell
        keep = np.sort(order[rank < np.ceil(cfg.fit_cap * min(m, cfg.fit_points) / len(starts))])
    if len(keep) > cfg.fit_points:
        keep = np.sort(rng.choice(keep, cfg.fit_points, replace=False))
    return keep


def _sampson(F: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Sampson distance ``(M,)`` of correspondences ``a → b`` ``(M, 2)`` to ``F``."""
    pa = np.concatenate([a, np.ones((len(a), 1))], 1).astype(np.float64)
    pb = np.concatenate([b, np.ones((len(b), 1))], 1).astype(np.float64)
    fa = pa @ F.T  # F x_a, (M, 3)
    fb = pb @ F  # F^T x_b
    num = np.einsum("ij,ij->i", pb, fa) ** 2
    den = fa[:, 0] ** 2 + fa[:, 1] ** 2 + fb[:, 0] ** 2 + fb[:, 1] ** 2
    return num / np.maximum(den, 1e-12)


def _depth_channels(depth: np.ndarray, xy: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``(N, T, 2)``: the log of the inverse depth at the point over the frame's median, and its change."""
    n, t = valid.shape
    d = np.zeros((n, t), np.float32)
    for f in range(t):
        inv = 1.0 / np.maximum(depth[f].astype(np.float32), 1e-3)
        d[:, f] = sample_bilinear(inv, xy[:, f, 0], xy[:, f, 1]) / max(float(np.median(inv)), 1e-6)
    d = np.log(np.maximum(d, 1e-3))
    dd = np.zeros_like(d)
    both = valid[:, 1:] & valid[:, :-1]
    dd[:, 1:] = np.where(both, d[:, 1:] - d[:, :-1], 0)
    return np.stack([d, dd], -1)


def appearance_descriptor(video: Video, xy: np.ndarray, valid: np.ndarray, cfg: CueConfig) -> np.ndarray:
    """``float32 (N, 7)``: local colour (CIE Lab mean and standard deviation in a box window) and
    gradient magnitude, averaged over the valid points of up to ``cfg.appearance_frames`` frames
    spread over the video. Lab channels scaled to about [-1, 1]."""
    n, t = valid.shape
    frames = np.unique(np.linspace(0, t - 1, min(t, cfg.appearance_frames)).round().astype(int))
    k = max(3, round(cfg.patch * max(video.height, video.width) / 854.0) | 1)
    acc = np.zeros((n, 7), np.float64)
    cnt = np.zeros(n, np.float64)
    for f in frames:
        rows = np.flatnonzero(valid[:, f])
        if not len(rows):
            continue
        lab = cv2.cvtColor(video.frames[f].astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)  # L 0..100, a/b ±127
        lab = (lab - np.float32([50, 0, 0])) / np.float32([50, 64, 64])
        mean = cv2.blur(lab, (k, k))
        std = np.sqrt(np.maximum(cv2.blur(lab * lab, (k, k)) - mean * mean, 0))
        gx = cv2.Sobel(lab[..., 0], cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(lab[..., 0], cv2.CV_32F, 0, 1, ksize=3)
        grad = cv2.blur(np.sqrt(gx * gx + gy * gy), (k, k))[..., None]
        stack = np.concatenate([mean, std, grad], -1)  # (H, W, 7)
        acc[rows] += sample_bilinear(stack, xy[rows, f, 0], xy[rows, f, 1])
        cnt[rows] += 1
    return (acc / np.maximum(cnt, 1)[:, None]).astype(np.float32)
