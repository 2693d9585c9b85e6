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
        from pathlib import Path

        p = Path(self.source)
        return p.name if p.is_dir() else p.stem


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
