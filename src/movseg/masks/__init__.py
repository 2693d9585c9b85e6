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


def _disk(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def grabcut_refine(image: np.ndarray, mask: np.ndarray, inner: int, outer: int, context: int, iters: int = 1,
                   scale: float = 1.0) -> np.ndarray:
    """``bool (H, W)``: ``mask`` ``uint8 (H, W)`` refined by GrabCut on ``image`` ``uint8 (H, W, 3)``,
    cropped to the mask's box grown by ``outer + context`` px. The mask eroded by ``inner`` is sure
    foreground, the rest of the mask probable foreground, a band ``outer`` px wide around it probable
    background, the remaining crop sure background. GrabCut runs on the crop resized by ``scale``
    (its cost grows with the pixels); its answer decides only the probable pixels. Returns the mask
    unchanged when GrabCut has nothing to learn from (no sure foreground or background). The same
    input gives the same answer, whatever ran before it in the thread."""
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return mask > 0
    h, w = mask.shape
    pad = outer + context
    y0, y1 = max(0, ys.min() - pad), min(h, ys.max() + pad + 1)
    x0, x1 = max(0, xs.min() - pad), min(w, xs.max() + pad + 1)
    m = mask[y0:y1, x0:x1]
    gc = np.full(m.shape, cv2.GC_BGD, np.uint8)
    gc[cv2.dilate(m, _disk(outer)) > 0] = cv2.GC_PR_BGD
    gc[m > 0] = cv2.GC_PR_FGD
    gc[cv2.erode(m, _disk(inner)) > 0] = cv2.GC_FGD
    crop = image[y0:y1, x0:x1]
    size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
    small = gc if scale == 1 else cv2.resize(gc, size, interpolation=cv2.INTER_NEAREST)
    if not (small == cv2.GC_BGD).any() or not (small == cv2.GC_FGD).any():
        return mask > 0
    img = np.ascontiguousarray(crop if scale == 1 else cv2.resize(crop, size, interpolation=cv2.INTER_AREA))
    bg, fg = np.zeros((1, 65)), np.zeros((1, 65))
    # GrabCut seeds its colour models by k-means++ from the calling thread's OpenCV generator; without a
    # fixed seed the answer depends on what that thread did before (the frame order of the worker pool)
    cv2.setRNGSeed(0)
    cv2.grabCut(img, small, None, bg, fg, iters, cv2.GC_INIT_WITH_MASK)
    on = ((small == cv2.GC_FGD) | (small == cv2.GC_PR_FGD)).astype(np.float32)
    if scale != 1:
        on = cv2.resize(on, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    out = np.zeros((h, w), bool)
    out[y0:y1, x0:x1] = (gc == cv2.GC_FGD) | (((gc == cv2.GC_PR_FGD) | (gc == cv2.GC_PR_BGD)) & (on > 0.5))
    return out


def build_segmenter(name: str = "tracks", **config) -> PromptableSegmenter:
    return SEGMENTERS.build(name, **config)


def check_segmenter(name: str, **config) -> None:
    """Raise :class:`MovsegError` now for a segmenter that cannot be built (unknown name, missing checkpoint),
    without building it: a run should fail before it tracks, not at its masks stage."""
    if name not in SEGMENTERS:
        raise MovsegError(f"unknown segmenter {name!r}: choose one of {', '.join(sorted(SEGMENTERS))}")
    check = getattr(SEGMENTERS[name], "check", None)
    if check is not None:
        check(**config)


@dataclass
class SegmenterState:
    video: Video
    # prompts[frame][obj_id] = (points float32 (M, 2) x, y; labels int (M,))
    prompts: dict = field(default_factory=lambda: defaultdict(dict))
    # scores[obj_id] = how sure the prompting stage is that the object moves (mean P(dynamic) of its tracks);
    # optional: a backend may read it, an object without one counts as sure
    scores: dict = field(default_factory=dict)

    def add(self, frame: int, obj_id: int, points: np.ndarray, labels: np.ndarray) -> None:
        """Record ``points`` ``float (M, 2)`` x, y in frame pixels with ``labels`` ``int (M,)`` (1 on the
        object, 0 not on it) for ``obj_id`` on ``frame``; a second call for the same frame and object adds
        to the first."""
        if not 0 <= frame < self.video.num_frames:
            raise MovsegError(f"frame {frame} is outside the video (0..{self.video.num_frames - 1})")
        pts = np.asarray(points, np.float32).reshape(-1, 2)
        lab = np.asarray(labels, int).reshape(-1)
        if len(pts) != len(lab) or not len(pts):
            raise MovsegError(f"{len(pts)} points but {len(lab)} labels: give one label per point, at least one point")
        if obj_id in self.prompts[frame]:
            old_p, old_l = self.prompts[frame][obj_id]
            pts, lab = np.concatenate([old_p, pts]), np.concatenate([old_l, lab])
        self.prompts[frame][obj_id] = (pts, lab)


@dataclass
class TracksSegmenterConfig:
    work_side: int = 480  # interpolate at this longer side (masks are returned at the video's size)
    # lam, sigma_color and splat chosen on DAVIS dev (benchmarks/davis_masks.py, 10,000 tracks per video):
    # with the track transformer's labels J&F 58.0 at lam 150, 60.1 at 600, 60.4 at 1200; with ground-truth
    # labels 76.3, 75.2, 73.2. Smoothing more hides wrong labels and loses thin parts; 600 is the compromise.
    lam: float = 600.0  # fast-global-smoother smoothness (larger: labels spread further along flat colour)
    # An object whose points span a box smaller than small_side x small_side (px at a working size of 480)
    # is smoothed with lam scaled down by the box's share of that area (at least 5 % of it): at full lam
    # the background's points around a small object outweigh its own, and it shrinks or vanishes, even one
    # of 170 tracks with P 0.96. Only objects whose score (mean P of their tracks, SegmenterState.scores)
    # reaches small_min_score: full lam also erases most of the small false objects that the motion stage
    # finds on camera pans (they score at most 0.83 on the validation pans). Chosen on the synthetic
    # validation scenes and pans (docs/benchmarks.md, "Small objects, only when sure"): at 100 for every
    # object, validation MOS / fine J&F 48.9 / 42.4 -> 52.8 / 48.2 but pans with a false object 7.1 -> 12.4 %;
    # from a score of 0.8, 52.5 / 47.2 and 8.3 %; from 0.85, 50.5 / 44.3 and 7.1 %, no more than without it.
    # From 0.85, small_side 150 / 220 give 51.3 / 45.1 and 51.4 / 45.1, pans still 7.1 %
    small_side: float = 150.0  # 0: off
    # a mean P, so calibrated on the track transformer's weights: `movseg segment` takes the one the weights
    # carry (load_model(...).small_min_score; the shipped ones carry 0.85), this default for weights without one
    small_min_score: float = 0.85
    sigma_color: float = 8.0  # colour range of the smoother's edges
    min_weight: float = 1e-3  # below this interpolated point density, a pixel is background (no support)
    splat: float = 3.0  # radius of the disk each point marks, px at a working size of 480 px (scaled with it)
    # GrabCut refinement of each object's mask with colour models of the object and its surroundings
    # (px at a working size of 480 px, scaled with it). On DAVIS dev (benchmarks/davis_masks.py) J&F
    # 60.1 without it, 61.4 / 62.8 / 63.5 with refine_scale 0.5 / 0.75 / 1.0 for about 0.01 / 0.03 /
    # 0.06 s/frame on 2 cores; 0.75 keeps the whole pipeline within 0.25 s/frame. docs/benchmarks.md.
    refine: bool = True
    refine_inner: int = 6  # the mask eroded by this much is sure foreground; the rest of it probable foreground
    # The band and the context were 15 and 60 px until 2026-11-23. At 25 and 90, DAVIS dev J&F 63.8 -> 64.5
    # (harness), synthetic validation MOS / fine J&F 42.1 / 44.9 -> 43.9 / 45.5 (benchmarks/synth_grouping.py),
    # for ~0.01 s/frame: masks spill less often than they miss a part, and a wider context models the
    # background better (docs/benchmarks.md, "GrabCut refinement of each object's mask")
    refine_outer: int = 25  # the band this wide outside the mask is probable background: the mask may grow into it
    refine_context: int = 90  # sure background around the band that feeds the background colour model
    refine_iters: int = 1  # GrabCut iterations
    refine_scale: float = 0.75  # GrabCut runs at this fraction of the working size (cost grows with pixels)
    threads: int = 2  # frames segmented in parallel (OpenCV releases the GIL)


class RecordingSegmenter:
    """The prompt side of the interface for backends that read every prompt at ``propagate`` time: the
    state records them (:meth:`SegmenterState.add`)."""

    def init_state(self, video: Video) -> SegmenterState:
        return SegmenterState(video)

    def reset_state(self, state: SegmenterState) -> None:
        state.prompts.clear()
        state.scores.clear()

    def add_points(self, state: SegmenterState, frame: int, obj_id: int, points: np.ndarray, labels: np.ndarray) -> None:
        state.add(frame, obj_id, points, labels)


@register("tracks")
class TracksSegmenter(RecordingSegmenter):
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

    def propagate(self, state: SegmenterState) -> Iterator[tuple[int, list[int], np.ndarray]]:
        from concurrent.futures import ThreadPoolExecutor

        obj_ids = sorted({k for per in state.prompts.values() for k in per})
        video = state.video

        def one(f: int) -> np.ndarray:
            per = state.prompts.get(f, {})
            return self.segment_frame(video.frames[f], [per.get(k) for k in obj_ids],
                                      [state.scores.get(k, 1.0) for k in obj_ids])

        with ThreadPoolExecutor(max(1, self.config.threads)) as pool:
            for f, masks in enumerate(pool.map(one, range(video.num_frames))):
                yield f, obj_ids, masks

    def segment_frame(self, image: np.ndarray, prompts: list, scores: list | None = None) -> np.ndarray:
        """``bool (K, H, W)`` non-overlapping masks from per-object ``(points, labels)`` (or None) and, optionally,
        how sure each object is (``scores``, see :class:`SegmenterState`; None: all sure)."""
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
            on = p[0][p[1] > 0]
            pos = self._splat(on, s, size)
            neg = self._splat(p[0][p[1] == 0], s, size)
            sure = scores is None or scores[k] >= c.small_min_score
            num, den = self._smooth(guide, np.dstack([pos, pos + neg]), self._lam(on, s, max(size), sure))
            value = num / np.maximum(den, 1e-6)
            take = (den > c.min_weight) & (value > 0.5) & (value > best)
            best[take] = value[take]
            label[take] = k + 1
        if c.refine:
            label = self._refine(guide, label, len(prompts), max(size) / 480.0)
        if s < 1:
            label = cv2.resize(label.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
        for k in range(len(prompts)):
            out[k] = label == k + 1
        return out

    def _refine(self, image: np.ndarray, label: np.ndarray, K: int, scale: float) -> np.ndarray:
        """``int32 (h, w)`` object labels after GrabCut on each object's crop; a pixel that two refined
        masks claim stays with the object that had it (else the first)."""
        c = self.config
        out = np.zeros_like(label)
        for k in range(1, K + 1):
            mask = (label == k).astype(np.uint8)
            if mask.sum() < 20:
                out[(label == k) & (out == 0)] = k
                continue
            ref = grabcut_refine(image, mask, round(c.refine_inner * scale), round(c.refine_outer * scale),
                                 round(c.refine_context * scale), c.refine_iters, c.refine_scale)
            out[ref & ((out == 0) | (label == k))] = k
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

    def _lam(self, points: np.ndarray, s: float, side: int, sure: bool = True) -> float:
        """The smoother's λ for an object whose points (frame px) are ``points`` ``(M, 2)``; only a ``sure`` one
        is smoothed less for being small."""
        c = self.config
        if c.small_side <= 0 or not sure:
            return c.lam
        box = np.prod((points.max(0) - points.min(0) + 1) * s)  # working px
        return c.lam * float(np.clip(box / (c.small_side * side / 480.0) ** 2, 0.05, 1.0))

    def _smooth(self, guide: np.ndarray, src: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
        out = cv2.ximgproc.fastGlobalSmootherFilter(guide, src, lam, self.config.sigma_color)
        return out[..., 0], out[..., 1]


from movseg.masks import sam2 as _sam2  # noqa: E402,F401  registers "sam2" (transformers is imported only when it is built)
