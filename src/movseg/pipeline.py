"""The segmentation job: read → segment → write, with per-stage timings.

``SegmentConfig.method`` picks the method: ``movseg`` (default: tracks →
track transformer → objects → masks, :mod:`movseg.method`) or one of the
baselines of :mod:`movseg.baselines`. Frames are processed at
``max_side`` and masks are returned at the input's original size.
"""

from __future__ import annotations

import io
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from movseg.baselines import METHODS as BASELINES
from movseg.errors import MovsegError
from movseg.io.results import write_results
from movseg.io.video import read_video
from movseg.method import MethodConfig, segment_moving_objects
from movseg.types import Segmentation, Tracks, Video

METHODS = ("movseg", *BASELINES)
PRESETS = {  # --preset: grid spacing, query step, track budget, segmenter settings (docs/benchmarks.md)
    "fast": {"grid_size": 14, "step": 8, "max_tracks": 2500},
    "balanced": {"grid_size": 5, "step": 8, "max_tracks": 10000},  # the default (MethodConfig's values)
    # more tracks than 10,000 stopped paying once the masks were refined (J&F 62.8 at 20,000 as at 10,000);
    # refining at the full working size does (+0.7 on DAVIS dev, ~0.03 s/frame more)
    "quality": {"grid_size": 5, "step": 8, "max_tracks": 10000, "segmenter_options": {"refine_scale": 1.0}},
}


@dataclass
class SegmentConfig:
    method: str = "movseg"  # "movseg" or a baseline (see movseg.baselines.METHODS)
    # process frames downscaled to this longest side (None: as they are); masks are written at full size. 854 is
    # DAVIS 480p, where every default was chosen and timed; larger frames cost time and memory, for a gain
    # nobody has measured (the masks stage alone at 854 instead of 480 px: +0.5 J&F, docs/benchmarks.md)
    max_side: int | None = 854
    stride: int = 1  # keep every stride-th frame of the input
    max_frames: int | None = None  # keep at most this many frames (after the stride)
    overlay: bool = True  # write overlay.mp4 next to the masks
    save_tracks: bool = False  # write tracks.npz (+ dynamic_prob, object_id) next to the masks
    progress: bool = False  # print each stage's time as it finishes
    movseg: MethodConfig = field(default_factory=MethodConfig)  # the movseg method's settings


@dataclass
class SegmentResult:
    """Output of :func:`segment_video`.

    Attributes:
        segmentation: labels ``uint8 (T, H0, W0)`` at the input's original size.
        video: the frames as processed (possibly downscaled).
        timings: seconds per stage.
        tracks: the movseg method's tracks in original-frame pixels (None for baselines).
        dynamic_prob: ``float32 (N,)`` P(dynamic) per track (movseg method only).
        object_id: ``int32 (N,)`` object per track, 0 = none (movseg method only).
        threshold: the P(dynamic) above which tracks were grouped into objects (movseg method only).
    """

    segmentation: Segmentation
    video: Video
    timings: dict[str, float] = field(default_factory=dict)
    tracks: Tracks | None = None
    dynamic_prob: np.ndarray | None = None
    object_id: np.ndarray | None = None
    threshold: float | None = None


def segment_video(source: str | Path | Video, config: SegmentConfig | None = None,
                  full_size: bool = True) -> SegmentResult:
    """Segment the independently moving objects of a video file, a frame folder or a :class:`Video`.

    ``full_size=False`` keeps the labels at the processing size (``result.video``'s frames) instead of
    upsampling them to the input's size: :func:`run_segment` upsamples frame by frame as it writes."""
    config = config or SegmentConfig()
    if config.method not in METHODS:
        raise MovsegError(f"unknown method {config.method!r}: choose one of {', '.join(METHODS)}")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if isinstance(source, Video):
        video = source
    else:
        video = read_video(source, max_side=config.max_side, stride=config.stride, max_frames=config.max_frames)
    timings["read"] = time.perf_counter() - t0
    if config.method != "movseg":
        t0 = time.perf_counter()
        seg = BASELINES[config.method](video)
        if full_size:
            seg = _to_size(seg, video.original_size)
        timings["segment"] = time.perf_counter() - t0
        return SegmentResult(seg, video, timings)
    out = segment_moving_objects(video, config.movseg, progress=config.progress)
    t0 = time.perf_counter()
    seg = _to_size(out.segmentation, video.original_size) if full_size else out.segmentation
    timings.update(out.timings)
    if full_size:
        timings["upsample"] = time.perf_counter() - t0
    return SegmentResult(seg, video, timings, _to_original(out.tracks, video), out.dynamic_prob, out.object_id,
                         out.threshold)


def _to_original(tracks: Tracks, video: Video) -> Tracks:
    """Tracks in the pixels of the original frames."""
    from movseg.tracking.base import rescale_xy

    h0, w0 = video.original_size
    if (h0, w0) == (video.height, video.width):
        return tracks
    xy = rescale_xy(tracks.xy, w0 / video.width, h0 / video.height)
    return Tracks(xy, tracks.visible, tracks.confidence, tracks.query_frame)


def _to_size(seg: Segmentation, size: tuple[int, int]) -> Segmentation:
    """Upsample labels (nearest) to ``size`` = (H, W) if they are smaller."""
    if seg.labels.shape[1:] == tuple(size):
        return seg
    h, w = size
    labels = np.empty((len(seg.labels), h, w), np.uint8)  # filled in place: a list then np.stack held it twice
    for lab, out in zip(seg.labels, labels):
        cv2.resize(lab, (w, h), dst=out, interpolation=cv2.INTER_NEAREST)
    return Segmentation(labels, seg.moving, seg.scores)


def run_segment(source: str | Path, out_root: str | Path, config: SegmentConfig | None = None,
                name: str | None = None) -> tuple[Path, SegmentResult]:
    """Segment ``source`` and write ``<out_root>/<name>/`` atomically (``name`` defaults to the
    input folder's name or the video file's stem); returns (that folder, result).

    The masks are written at the input's size, upsampled one frame at a time (a 4K video's masks are
    never all in memory at full size); the returned result's labels stay at the processing size."""
    config = config or SegmentConfig()
    result = segment_video(source, config, full_size=False)
    info = {"timings": result.timings, "config": asdict(config)}
    if result.threshold is not None:
        info["grouping_threshold"] = result.threshold
    extra = {}
    if config.save_tracks and result.tracks is not None:
        buf = io.BytesIO()
        np.savez_compressed(buf, **result.tracks.to_npz_dict(), dynamic_prob=result.dynamic_prob.astype(np.float32),
                            object_id=result.object_id.astype(np.int32))
        extra["tracks.npz"] = buf.getvalue()
    folder = write_results(out_root, result.video, result.segmentation, info, overlay=config.overlay,
                           extra_files=extra, name=name, size=result.video.original_size)
    return folder, result
