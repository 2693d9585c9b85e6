"""Plain data containers passed between the pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Video:
    """Decoded frames of one video.

    Attributes:
        frames: ``uint8 (T, H, W, 3)`` RGB.
        fps: frames per second (after any stride), ``>0``.
        names: ``T`` frame names without extension (``"00000"`` for video files,
            the file stems for a folder of images); used for output file names.
        source: the path it was read from.
        original_size: ``(H, W)`` before any resizing.
    """

    frames: np.ndarray
    fps: float
    names: list[str]
    source: str = ""
    original_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.frames.ndim != 4 or self.frames.shape[-1] != 3 or self.frames.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 (T, H, W, 3), got {self.frames.dtype} {self.frames.shape}")
        if len(self.names) != len(self.frames):
            raise ValueError(f"{len(self.names)} names for {len(self.frames)} frames")
        if self.original_size is None:
            self.original_size = (self.height, self.width)

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    @property
    def name(self) -> str:
        """The result folder name: the input folder's name or the video file's stem."""
        return result_name(self.source)


def result_name(source: str) -> str:
    """The result folder name of an input path: the folder's name or the video file's stem."""
    from pathlib import Path

    p = Path(source)
    return (p.name if p.is_dir() else p.stem) or "video"


@dataclass
class Segmentation:
    """Per-frame object labels and motion states.

    Attributes:
        labels: ``uint8 (T, H, W)``; 0 = background, ``k`` = object ``k`` (1..K).
        moving: ``bool (K, T)``; ``moving[k-1, t]`` says whether object ``k``
            moves at frame ``t``.
        scores: ``float32 (K,)`` confidence per object (1.0 when the method has none).
    """

    labels: np.ndarray
    moving: np.ndarray
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    def __post_init__(self) -> None:
        if self.labels.ndim != 3 or self.labels.dtype != np.uint8:
            raise ValueError(f"labels must be uint8 (T, H, W), got {self.labels.dtype} {self.labels.shape}")
        k = self.moving.shape[0] if self.moving.ndim == 2 else -1
        if self.moving.ndim != 2 or self.moving.shape[1] != self.labels.shape[0]:
            raise ValueError(f"moving must be bool (K, T={self.labels.shape[0]}), got {self.moving.shape}")
        if self.scores.size == 0:
            self.scores = np.ones(k, np.float32)
        if self.labels.max(initial=0) > k:
            raise ValueError(f"labels use id {int(self.labels.max())} but only {k} objects are described")

    @property
    def num_objects(self) -> int:
        return int(self.moving.shape[0])

    @classmethod
    def empty(cls, num_frames: int, height: int, width: int) -> "Segmentation":
        return cls(np.zeros((num_frames, height, width), np.uint8), np.zeros((0, num_frames), bool))


def intervals_from_mask(flags: np.ndarray) -> list[list[int]]:
    """``bool (T,)`` → inclusive ``[[t0, t1], ...]`` runs of True (the ``meta.json`` form)."""
    flags = np.asarray(flags, bool)
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return [[int(a), int(b)] for a, b in zip(starts, ends)]


def mask_from_intervals(intervals, num_frames: int) -> np.ndarray:
    """Inverse of :func:`intervals_from_mask`: inclusive runs → ``bool (T,)``."""
    flags = np.zeros(num_frames, bool)
    for t0, t1 in intervals:
        flags[max(0, int(t0)) : min(num_frames, int(t1) + 1)] = True
    return flags


@dataclass
class Tracks:
    """Long-range point tracks.

    Attributes:
        xy: ``float32 (N, T, 2)`` pixel coordinates ``(x, y)`` in the original
            frame, pixel centres at integer coordinates.
        visible: ``bool (N, T)``.
        confidence: ``float32 (N, T)`` in [0, 1]: estimated probability that
            the position is within a few pixels of the truth (0 where not visible).
        query_frame: ``int32 (N,)``: the frame each track was started from.
    """

    xy: np.ndarray
    visible: np.ndarray
    confidence: np.ndarray
    query_frame: np.ndarray

    def __post_init__(self) -> None:
        n, t = self.visible.shape
        if self.xy.shape != (n, t, 2) or self.confidence.shape != (n, t) or self.query_frame.shape != (n,):
            raise ValueError(
                f"inconsistent track shapes: xy {self.xy.shape}, visible {self.visible.shape}, "
                f"confidence {self.confidence.shape}, query_frame {self.query_frame.shape}"
            )

    @property
    def num_tracks(self) -> int:
        return int(self.visible.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.visible.shape[1])

    def to_npz_dict(self) -> dict[str, np.ndarray]:
        """The ``tracks.npz`` keys: ``xy``, ``visible``, ``confidence``, ``query_frame``."""
        return {
            "xy": self.xy.astype(np.float32),
            "visible": self.visible.astype(bool),
            "confidence": self.confidence.astype(np.float32),
            "query_frame": self.query_frame.astype(np.int32),
        }
