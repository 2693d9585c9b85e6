"""The segmentation job: read → segment → write, with per-stage timings.

The method is chosen by registry name (``SegmentConfig.method``); for now the
registered methods are the baselines of :mod:`movseg.baselines`. The track →
motion → objects → masks pipeline slots in here as another method, with the
same entry points.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from movseg.baselines import METHODS
from movseg.errors import MovsegError
from movseg.io.results import write_results
from movseg.io.video import read_video
from movseg.types import Segmentation, Video


@dataclass
class SegmentConfig:
    method: str = "flow-residual"  # segmentation method (registry name: see movseg.baselines.METHODS)
    max_side: int | None = None  # process frames downscaled to this longest side; masks are written at full size
    stride: int = 1  # keep every stride-th frame of the input
    max_frames: int | None = None  # keep at most this many frames (after the stride)
    overlay: bool = True  # write overlay.mp4 next to the masks


@dataclass
class SegmentResult:
    """Output of :func:`segment_video`.

    Attributes:
        segmentation: labels ``uint8 (T, H0, W0)`` at the input's original size.
        video: the frames as processed (possibly downscaled).
        timings: seconds per stage.
    """

    segmentation: Segmentation
    video: Video
    timings: dict[str, float] = field(default_factory=dict)


def segment_video(source: str | Path | Video, config: SegmentConfig | None = None) -> SegmentResult:
    """Segment the independently moving objects of a video file, a frame folder or a :class:`Video`."""
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
    t0 = time.perf_counter()
    seg = METHODS[config.method](video)
    seg = _to_size(seg, video.original_size)
    timings["segment"] = time.perf_counter() - t0
    return SegmentResult(seg, video, timings)


def _to_size(seg: Segmentation, size: tuple[int, int]) -> Segmentation:
    """Upsample labels (nearest) to ``size`` = (H, W) if they are smaller."""
    if seg.labels.shape[1:] == tuple(size):
        return seg
    h, w = size
    labels = np.stack([cv2.resize(lab, (w, h), interpolation=cv2.INTER_NEAREST) for lab in seg.labels])
    return Segmentation(labels, seg.moving, seg.scores)


def run_segment(source: str | Path, out_root: str | Path, config: SegmentConfig | None = None,
                name: str | None = None) -> tuple[Path, SegmentResult]:
    """Segment ``source`` and write ``<out_root>/<name>/`` atomically (``name`` defaults to the
    input folder's name or the video file's stem); returns (that folder, result)."""
    config = config or SegmentConfig()
    result = segment_video(source, config)
    info = {"timings": result.timings, "config": asdict(config)}
    folder = write_results(out_root, result.video, result.segmentation, info, overlay=config.overlay, name=name)
    return folder, result
