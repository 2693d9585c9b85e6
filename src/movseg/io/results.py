"""Writing a segmentation to disk, atomically: masks, overlay video, result.json."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from movseg.io.masks import DAVIS_PALETTE, write_mask
from movseg.errors import MovsegError
from movseg.io.video import VideoWriter
from movseg.types import Segmentation, Video, intervals_from_mask


def check_output_folder(folder: str | Path) -> None:
    """Raise :class:`MovsegError` in one line unless ``folder`` is a folder that can be written to, or can be
    created: checked before the work, so that a wrong ``-o`` does not waste a run."""
    folder = Path(folder)
    existing = next(p for p in [folder, *folder.parents] if p.exists())
    if not existing.is_dir():
        raise MovsegError(f"cannot write to {folder}: {existing} is a file, not a folder (choose another output path)")
    try:  # a real probe: permissions, read-only file systems and /proc-like folders all show here
        os.rmdir(tempfile.mkdtemp(prefix=".movseg-probe-", dir=existing))
    except OSError as e:
        raise MovsegError(f"cannot write to {folder}: {e.strerror} in {existing} (give -o a folder you can write "
                          "to)") from None


@contextmanager
def atomic_directory(final: str | Path) -> Iterator[Path]:
    """Yield a temporary directory beside ``final``; on success it replaces ``final``.

    On any exception (including KeyboardInterrupt) the temporary directory is
    removed and ``final`` is left as it was, so no half-written result is ever
    visible. The parent folder is created if needed and removed again on
    failure if this call created it and it is empty.
    """
    final = Path(final)
    parent = final.parent
    created = [p for p in [parent, *parent.parents] if not p.exists()]
    check_output_folder(parent)
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".{final.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        old = None
        if final.exists():
            old = parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for p in created:  # innermost first
            try:
                p.rmdir()
            except OSError:
                break
        raise


@contextmanager
def atomic_file(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; on success it replaces ``final``, on failure it is removed."""
    final = Path(final)
    check_output_folder(final.parent)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.stem}.tmp-{uuid.uuid4().hex[:8]}{final.suffix}"
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


_PALETTE_LUT = DAVIS_PALETTE.reshape(256, 1, 3)


def draw_objects(frame: np.ndarray, lab: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """The overlay frame: ``frame`` ``uint8 (H, W, 3)`` with each object of ``lab`` ``uint8 (H', W')`` (ids,
    resized nearest to the frame if needed) blended in its DAVIS palette colour, plus its outline."""
    if lab.shape != frame.shape[:2]:
        lab = cv2.resize(lab, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_NEAREST)
    # OpenCV whole-frame operations: 8x faster than NumPy boolean indexing at 854x480
    colours = cv2.LUT(cv2.merge([lab, lab, lab]), _PALETTE_LUT)
    blend = cv2.addWeighted(np.ascontiguousarray(frame), 1 - alpha, colours, alpha, 0.0)
    fg = lab > 0
    out = cv2.copyTo(blend, fg.view(np.uint8), frame.copy())
    for k in np.unique(lab[fg]):
        contours, _ = cv2.findContours((lab == k).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, tuple(int(c) for c in DAVIS_PALETTE[k]), 2)
    return out


def write_results(
    out_root: str | Path,
    video: Video,
    seg: Segmentation,
    info: dict | None = None,
    overlay: bool = True,
    extra_files: dict[str, bytes] | None = None,
    name: str | None = None,
    size: tuple[int, int] | None = None,
    tracks_frames: Iterable[np.ndarray] | None = None,
) -> Path:
    """Write ``<out_root>/<video.name>/`` atomically and return that path.

    Layout::

        masks/<frame>.png   DAVIS indexed PNG per frame (value = object id)
        overlay.mp4         H.264 yuv420p faststart (if ``overlay``)
        tracks.mp4          ``tracks_frames``, the same way (if given)
        result.json         input, frames, size, objects (id, moving intervals,
                            score, frames present), timings, config, version

    Args:
        out_root: the ``-o`` folder.
        video: the frames the overlay is drawn on (and their names).
        seg: labels ``(T, H, W)`` at the output resolution, motion states.
        info: extra JSON fields, e.g. ``{"timings": {...}, "config": {...}}``;
            ``timings`` gains ``write`` (this call) and ``total``.
        extra_files: more files to place in the result folder (name → bytes).
        name: the result folder's name (default: ``video.name``).
        size: ``(H, W)`` to write the masks at, each upsampled (nearest) as it is written
            (default: the labels' own size); the overlay stays at the frames' size.
        tracks_frames: one drawing ``uint8 (H, W, 3)`` per frame for tracks.mp4 (e.g.
            :func:`movseg.tracking.viz.draw_tracks`), consumed as the frames are written.
    """
    with ResultWriter(out_root, name or video.name, video.source, video.fps, size or seg.labels.shape[1:],
                      overlay, tracks_frames is not None) as out:
        drawings = iter(tracks_frames) if tracks_frames is not None else None
        for frame_name, frame, lab in zip(video.names, video.frames, seg.labels):
            out.add(frame_name, frame, lab, next(drawings) if drawings is not None else None)
        return out.finish(seg.moving, seg.scores, info, extra_files)


class ResultWriter:
    """Writes a result folder (see :func:`write_results`) one frame at a time, for videos too long to hold.

    ``with ResultWriter(...) as out:``, then :meth:`add` for each frame in order and :meth:`finish` once.
    The folder appears only when :meth:`finish` returns inside the ``with`` block; on any exception, or when
    :meth:`finish` was never called, nothing is left behind (:func:`atomic_directory`).

    Args:
        out_root: the ``-o`` folder; the result goes to ``<out_root>/<name>/``.
        name: the result folder's name.
        source: the input's path, for result.json.
        fps: frame rate of the overlay.
        size: ``(H, W)`` the masks are written at (each upsampled, nearest, as it is written).
        overlay: also write overlay.mp4, at the size of the frames given to :meth:`add`.
        tracks: also write tracks.mp4 from the drawings given to :meth:`add`.
    """

    def __init__(self, out_root: str | Path, name: str, source: str, fps: float, size: tuple[int, int],
                 overlay: bool = True, tracks: bool = False):
        self.final = Path(out_root) / name
        self.name, self.source, self.fps, self.overlay, self.tracks = name, source, fps, overlay, tracks
        self.size = (int(size[0]), int(size[1]))
        self.names: list[str] = []
        self.present: list[np.ndarray] = []  # per frame, bool (256,): which ids have pixels
        self.seconds = 0.0
        self.done = False

    def __enter__(self) -> "ResultWriter":
        self._atomic = atomic_directory(self.final)
        self.tmp = self._atomic.__enter__()
        (self.tmp / "masks").mkdir()
        self._pool = ThreadPoolExecutor(2)  # PNG compression releases the GIL: 2x on 2 cores
        self._pending: deque = deque()
        self._video = VideoWriter(self.tmp / "overlay.mp4", self.fps) if self.overlay else None
        self._tracks = VideoWriter(self.tmp / "tracks.mp4", self.fps) if self.tracks else None
        return self

    def add(self, frame_name: str, frame: np.ndarray, labels: np.ndarray, tracks: np.ndarray | None = None) -> None:
        """Write frame ``frame_name``'s mask from ``labels`` ``uint8 (h, w)`` (ids) and draw it on ``frame``
        ``uint8 (H, W, 3)`` for the overlay; ``tracks`` ``uint8 (H, W, 3)``: the frame of tracks.mp4."""
        start = time.perf_counter()
        self.names.append(frame_name)
        self.present.append(np.bincount(labels.ravel(), minlength=256) > 0)
        self._pending.append(self._pool.submit(self._write_mask, frame_name, labels))
        while len(self._pending) > 4:  # a few masks in flight, not the whole video's
            self._pending.popleft().result()
        if self._video is not None:
            self._video.write(draw_objects(frame, labels))
        if self._tracks is not None:
            self._tracks.write(tracks)
        self.seconds += time.perf_counter() - start

    def add_file(self, name: str, data: bytes) -> None:
        """Write ``data`` to ``name`` (a path relative to the result folder, folders created as needed)."""
        start = time.perf_counter()
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.seconds += time.perf_counter() - start

    def _write_mask(self, frame_name: str, lab: np.ndarray) -> None:
        out_h, out_w = self.size
        if lab.shape != (out_h, out_w):
            lab = cv2.resize(lab, (out_w, out_h), interpolation=cv2.INTER_NEAREST)
        write_mask(self.tmp / "masks" / f"{frame_name}.png", lab)

    def finish(self, moving: np.ndarray, scores: np.ndarray, info: dict | None = None,
               extra_files: dict[str, bytes] | None = None) -> Path:
        """Write result.json (objects 1..K with ``moving`` ``bool (K, T)`` and ``scores`` ``(K,)``; ``info``
        as in :func:`write_results`) and ``extra_files``; the folder is put in place when the ``with`` block
        ends. Returns its final path."""
        from movseg import __version__

        start = time.perf_counter()
        while self._pending:
            self._pending.popleft().result()
        self._close_videos()
        for fname, data in (extra_files or {}).items():
            self.add_file(fname, data)
        info = dict(info or {})
        if "timings" in info:  # add this stage's time and the total, rounded
            timings = {**info["timings"], "write": self.seconds + time.perf_counter() - start}
            timings["total"] = sum(timings.values())
            info["timings"] = {k: round(v, 4) for k, v in timings.items()}
        K = len(scores)
        present = np.stack(self.present, 1)[1:K + 1] if self.present else np.zeros((K, 0), bool)
        result = {
            "movseg_version": __version__,
            "input": str(self.source),
            "name": self.name,
            "frames": len(self.names),
            "size": list(self.size),
            "fps": self.fps,
            "frame_names": self.names,
            "objects": [
                {
                    "id": k + 1,
                    "moving": intervals_from_mask(moving[k]),
                    "present": intervals_from_mask(present[k]),
                    "score": float(scores[k]),
                }
                for k in range(K)
            ],
            **info,
        }
        (self.tmp / "result.json").write_text(json.dumps(result, indent=2) + "\n")
        self.done = True
        return self.final

    def _close_videos(self) -> None:
        """Finish overlay.mp4 and tracks.mp4 (those being written)."""
        for writer in (self._video, self._tracks):
            if writer is not None:
                writer.close()
        self._video = self._tracks = None

    def __exit__(self, kind, error, trace) -> None:
        self._pool.shutdown(wait=True)
        self._close_videos()
        if kind is None and not self.done:
            error = MovsegError("the result was not finished: call finish() inside the with block")
            self._atomic.__exit__(MovsegError, error, None)  # removes the temporary folder
            raise error
        return self._atomic.__exit__(kind, error, trace)
