"""Promptable video segmenters: points in, per-object masks out.

The interface follows SAM2's video predictor so a SAM2 backend can slot in:
``state = seg.init_state(video)``; ``seg.add_points(state, frame, obj_id,
points, labels)`` (labels 1 = on the object, 0 = not on it) any number of
times; ``seg.propagate(state)`` yields ``(frame, obj_ids, masks bool (K, H, W))``
for every frame; ``seg.reset_state(state)`` forgets the prompts.

``dense_prompts`` tells the prompting stage what a backend wants: SAM2 is
prompted with a few points per object every few frames; the weight-free
``tracks`` backend wants every labelled track point of every frame.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterator, Protocol

import cv2
import numpy as np

from movseg.errors import MovsegError
from movseg.registry import Registry
from movseg.types import Video


class PromptableSegmenter(Protocol):
    dense_prompts: bool

    def init_state(self, video: Video) -> "SegmenterState": ...

    def add_points(self, state, frame: int, obj_id: int, points: np.ndarray, labels: np.ndarray) -> None: ...

    def propagate(self, state) -> Iterator[tuple[int, list[int], np.ndarray]]: ...

    def reset_state(self, state) -> None: ...


SEGMENTERS = Registry("segmenter")
register = SEGMENTERS.register  # class decorator: make a segmenter selectable by name


def build_segmenter(name: str = "tracks", **config) -> PromptableSegmenter:
    return SEGMENTERS.build(name, **config)


@dataclass
class SegmenterState:
    video: Video
    # prompts[frame][obj_id] = (points float32 (M, 2) x, y; labels int (M,))
    prompts: dict = field(default_factory=lambda: defaultdict(dict))


@dataclass
class TracksSegmenterConfig:
    work_side: int = 480  # interpolate at this longer side (masks are returned at the video's size)
    # lam, sigma_color and splat chosen on DAVIS dev (benchmarks/davis_masks.py, 10,000 tracks per video):
    # with the track transformer's labels J&F 58.0 at lam 150, 60.1 at 600, 60.4 at 1200; with ground-truth
    # labels 76.3, 75.2, 73.2. Smoothing more hides wrong labels and loses thin parts; 600 is the compromise.
    lam: float = 600.0  # fast-global-smoother smoothness (larger: labels spread further along flat colour)
    sigma_color: float = 8.0  # colour range of the smoother's edges
    min_weight: float = 1e-3  # below this interpolated point density, a pixel is background (no support)
    splat: float = 3.0  # radius of the disk each point marks, px at a working size of 480 px (scaled with it)


@register("tracks")
class TracksSegmenter:
    """Weight-free: dense masks by edge-aware interpolation of labelled points.

    For each object, its positive points (value 1) and negative points (0) are
    spread over the frame with OpenCV's fast global smoother guided by the
    image, so labels stop at colour edges; a pixel belongs to the object whose
    interpolated value is highest and above 0.5, where enough points support it.
    Frames are processed independently: temporal consistency comes from the
    long-range tracks that provide the points.
    """

    dense_prompts = True

    def __init__(self, **config):
        self.config = TracksSegmenterConfig(**config)

    def init_state(self, video: Video) -> SegmenterState:
        return SegmenterState(video)

    def reset_state(self, state: SegmenterState) -> None:
        state.prompts.clear()

    def add_points(self, state: SegmenterState, frame: int, obj_id: int, points: np.ndarray, labels: np.ndarray) -> None:
        if not 0 <= frame < state.video.num_frames:
            raise MovsegError(f"frame {frame} is outside the video (0..{state.video.num_frames - 1})")
        pts = np.asarray(points, np.float32).reshape(-1, 2)
        lab = np.asarray(labels, int).reshape(-1)
        if len(pts) != len(lab):
            raise MovsegError(f"{len(pts)} points but {len(lab)} labels")
        if obj_id in state.prompts[frame]:
            old_p, old_l = state.prompts[frame][obj_id]
            pts, lab = np.concatenate([old_p, pts]), np.concatenate([old_l, lab])
        state.prompts[frame][obj_id] = (pts, lab)

    def propagate(self, state: SegmenterState) -> Iterator[tuple[int, list[int], np.ndarray]]:
        obj_ids = sorted({k for per in state.prompts.values() for k in per})
        video = state.video
        for f in range(video.num_frames):
            per = state.prompts.get(f, {})
            masks = self.segment_frame(video.frames[f], [per.get(k) for k in obj_ids])
            yield f, obj_ids, masks

    def segment_frame(self, image: np.ndarray, prompts: list) -> np.ndarray:
        """``bool (K, H, W)`` non-overlapping masks from per-object ``(points, labels)`` (or None)."""
        c = self.config
        h, w = image.shape[:2]
        out = np.zeros((len(prompts), h, w), bool)
        if not any(p is not None and (p[1] > 0).any() for p in prompts):
            return out
        s = min(1.0, c.work_side / max(h, w))
        size = (max(1, round(w * s)), max(1, round(h * s)))
        guide = cv2.resize(image, size, interpolation=cv2.INTER_AREA) if s < 1 else image
        best = np.zeros(size[::-1], np.float32)
        label = np.zeros(size[::-1], np.int32)
        for k, p in enumerate(prompts):
            if p is None or not (p[1] > 0).any():
                continue
            pos = self._splat(p[0][p[1] > 0], s, size)
            neg = self._splat(p[0][p[1] == 0], s, size)
            num, den = self._smooth(guide, np.dstack([pos, pos + neg]))
            value = num / np.maximum(den, 1e-6)
            take = (den > c.min_weight) & (value > 0.5) & (value > best)
            best[take] = value[take]
            label[take] = k + 1
        if s < 1:
            label = cv2.resize(label.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
        for k in range(len(prompts)):
            out[k] = label == k + 1
        return out

    def _splat(self, pts: np.ndarray, s: float, size: tuple[int, int]) -> np.ndarray:
        img = np.zeros(size[::-1], np.float32)
        if len(pts):
            x = np.clip(np.round((pts[:, 0] + 0.5) * s - 0.5).astype(int), 0, size[0] - 1)
            y = np.clip(np.round((pts[:, 1] + 0.5) * s - 0.5).astype(int), 0, size[1] - 1)
            np.add.at(img, (y, x), 1.0)
            r = round(self.config.splat * max(size) / 480.0)
            if r > 0:
                img = cv2.dilate(img, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
        return img

    def _smooth(self, guide: np.ndarray, src: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = cv2.ximgproc.fastGlobalSmootherFilter(guide, src, self.config.lam, self.config.sigma_color)
        return out[..., 0], out[..., 1]
