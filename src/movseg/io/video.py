"""Video input (a file via PyAV, or a folder of images) and H.264 output."""

from __future__ import annotations

import re
import sys
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from movseg.errors import MovsegError
from movseg.types import Video

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_EXTENSIONS = {".mp4", ".mov", ".avi", ".webm", ".mkv", ".m4v", ".mpg", ".mpeg", ".gif"}
DEFAULT_FOLDER_FPS = 24.0  # DAVIS frame rate; a folder of images carries none
MIN_SIDE = 16  # px on the longer side: below this the optical flow has no pyramid to run on


def natural_key(name: str) -> list:
    """Sort key that orders ``frame_2.png`` before ``frame_10.png``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def read_video(
    path: str | Path,
    max_side: int | None = None,
    stride: int = 1,
    max_frames: int | None = None,
    warn=None,
) -> Video:
    """Read a video file or a folder of jpg/png frames.

    Args:
        path: video file (anything FFmpeg decodes: mp4, mov, avi, webm, mkv...),
            a single image (a one-frame video) or a folder of images, sorted by
            natural order of their names. Non-image files in a folder are skipped
            with one warning.
        max_side: if given, frames whose longer side exceeds it are downscaled
            (area interpolation) so that it equals ``max_side``.
        stride: keep every ``stride``-th frame (fps is divided accordingly).
        max_frames: keep at most this many frames (after the stride).
        warn: callable taking one message line; default prints to stderr.

    Returns:
        a :class:`Video` with ``uint8 (T, H, W, 3)`` RGB frames. Grayscale, RGBA,
        palette and 16-bit images are converted to 8-bit RGB.

    Raises:
        MovsegError: with a one-line message for every unreadable input.
    """
    stream = VideoStream(path, max_side, stride, max_frames, warn)
    names, frames = [], []
    for name, frame in stream:
        names.append(name)
        frames.append(frame)
    return Video(np.stack(frames), float(stream.fps), names, stream.source, stream.original_size)


class VideoStream:
    """The frames of a video file, a folder of images or a single image, decoded one at a time.

    Iterating yields ``(name, uint8 (H, W, 3) RGB frame)``, each frame downscaled to ``max_side`` as soon as
    it is decoded, so a long video never needs to sit in memory. The arguments are those of
    :func:`read_video`. ``fps`` and ``source`` are known at once, ``original_size`` (the stored ``(H, W)``)
    once the first frame has been decoded. Inputs that cannot be read at all raise :class:`MovsegError`
    here; a frame that cannot be decoded raises it during iteration.
    """

    def __init__(self, path: str | Path, max_side: int | None = None, stride: int = 1,
                 max_frames: int | None = None, warn=None):
        warn = warn or (lambda msg: print(f"movseg: warning: {msg}", file=sys.stderr))
        if stride < 1:
            raise MovsegError(f"stride must be >= 1, got {stride}")
        if max_side is not None and max_side < MIN_SIDE:
            raise MovsegError(f"max side must be >= {MIN_SIDE} pixels, got {max_side}")
        p = Path(path)
        if not p.exists():
            raise MovsegError(f"input not found: {p} (give a video file or a folder of jpg/png frames)")
        self.path, self.source, self.max_side = p, str(p), max_side
        self.stride, self.max_frames = stride, max_frames
        self.original_size: tuple[int, int] | None = None
        if p.is_dir():
            self._images = _folder_images(p, warn)[::stride][:max_frames]
            self.fps = DEFAULT_FOLDER_FPS / stride
        elif p.suffix.lower() in IMAGE_EXTENSIONS:
            self._images, self.fps = [p], DEFAULT_FOLDER_FPS
        else:
            self._images = None
            self.fps = _file_rate(p) / stride

    def __iter__(self) -> Iterator[tuple[str, np.ndarray]]:
        frames = self._decode_images() if self._images is not None else self._decode_file()
        for name, frame, size in frames:
            if self.original_size is None and max(frame.shape[:2]) < MIN_SIDE:
                raise MovsegError(f"{self.source}: frames are {frame.shape[1]}x{frame.shape[0]}, movseg needs them at "
                                  f"least {MIN_SIDE} px on their longer side: upscale the video")
            self.original_size = self.original_size or (int(size[0]), int(size[1]))
            yield name, frame

    def _decode_images(self):
        images, max_side = self._images, self.max_side

        def read(f: Path) -> tuple[np.ndarray, tuple[int, int]]:
            frame, size = _read_image(f, max_side)
            return _resize(frame, max_side), size

        first = None
        with ThreadPoolExecutor(2) as pool:  # decoding releases the GIL: ~2x on 2 cores
            ahead = deque(pool.submit(read, f) for f in images[:4])  # a few frames in flight, not the whole folder
            for i, f in enumerate(images):
                frame, size = ahead.popleft().result()
                if i + 4 < len(images):
                    ahead.append(pool.submit(read, images[i + 4]))
                first = first or size
                if size != first:
                    raise MovsegError(
                        f"frame {f.name} is {size[1]}x{size[0]} but {images[0].name} is {first[1]}x{first[0]}: "
                        "all frames in a folder must have the same size"
                    )
                yield f.stem, frame, size

    def _decode_file(self):
        import av

        path, stride, max_frames = self.path, self.stride, self.max_frames
        container = _open_container(path)
        with container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            declared = stream.frames  # 0 when the container does not say
            kept, decoded, stopped = 0, 0, False
            try:
                for frame in container.decode(stream):
                    decoded += 1
                    if (decoded - 1) % stride:
                        continue
                    image = frame.to_ndarray(format="rgb24")
                    yield f"{kept:05d}", _resize(image, self.max_side), image.shape[:2]
                    kept += 1
                    if max_frames is not None and kept >= max_frames:
                        stopped = True
                        break
            except av.FFmpegError as e:
                raise MovsegError(f"video {path} is corrupt after {decoded} frames: {_reason(e)} ({_HINT})") from None
        if kept and not stopped and declared and declared - decoded > max(1, 0.02 * declared):
            raise MovsegError(f"video {path} is truncated: {decoded} of {declared} frames could be decoded ({_HINT})")
        if not kept:
            raise MovsegError(f"video {path} contains no frames ({_HINT})")


def _resize(frame: np.ndarray, max_side: int | None) -> np.ndarray:
    h, w = frame.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return frame
    s = max_side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def _folder_images(folder: Path, warn) -> list[Path]:
    """The images of ``folder`` in natural order (non-image files skipped with one warning)."""
    files = [f for f in folder.iterdir() if not f.name.startswith(".") and f.is_file()]
    images = [f for f in files if f.suffix.lower() in IMAGE_EXTENSIONS]
    others = sorted(f.name for f in files if f.suffix.lower() not in IMAGE_EXTENSIONS)
    if not images:
        raise MovsegError(f"no jpg/png images in folder {folder} (give a folder of frames or a video file)")
    if others:
        warn(f"skipping {len(others)} non-image file(s) in {folder} (e.g. {others[0]})")
    return sorted(images, key=lambda f: natural_key(f.name))


_REDUCED = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}


def _read_image(path: Path, max_side: int | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """One image file as ``uint8 (h, w, 3)`` RGB, whatever its depth and channels, and its stored size
    ``(H, W)``. A JPEG at least twice ``max_side`` is decoded at 1/2, 1/4 or 1/8 of its size (the
    decoder skips the detail; 3x faster at 4K), never below ``max_side``, so that ``h, w`` may be smaller
    than ``H, W``: downscaling to ``max_side`` finishes the job."""
    data = np.fromfile(str(path), np.uint8)
    flag, stored = cv2.IMREAD_UNCHANGED, None
    if max_side and data.size and path.suffix.lower() in (".jpg", ".jpeg"):
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as im:  # reads the header only
                w, h = im.size
        except (UnidentifiedImageError, OSError):
            w = h = 0  # let OpenCV decode it, or say it cannot
        factor = max((f for f in _REDUCED if max(h, w) // f >= max_side), default=1)
        if factor > 1:  # stored orientation, as IMREAD_UNCHANGED reads it
            flag, stored = _REDUCED[factor] | cv2.IMREAD_IGNORE_ORIENTATION, (h, w)
    img = cv2.imdecode(data, flag) if data.size else None
    if img is None:
        raise MovsegError(f"cannot decode image {path} (corrupt or not an image: replace or remove it)")
    return to_rgb8(img, bgr=True), stored or img.shape[:2]


def to_rgb8(img: np.ndarray, bgr: bool = False) -> np.ndarray:
    """Convert gray/BGR(A)/RGB(A) images of any integer or float depth to ``uint8 (H, W, 3)`` RGB."""
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype.kind == "f":
        img = np.clip(img * (255.0 if img.max(initial=0) <= 1.0 else 1.0), 0, 255).round().astype(np.uint8)
    elif img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 2:
        return np.repeat(img[:, :, None], 3, axis=2)
    if img.shape[2] == 1:
        return np.repeat(img, 3, axis=2)
    img = img[:, :, :3]
    return np.ascontiguousarray(img[:, :, ::-1] if bgr else img)


_HINT = "check that it is a complete mp4/mov/avi/webm/mkv file"


def _open_container(path: Path):
    """An open PyAV container of ``path`` with at least one video stream."""
    import av

    try:
        container = av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as e:
        raise MovsegError(f"cannot read video {path}: {_reason(e)} ({_HINT})") from None
    if not container.streams.video:
        container.close()
        raise MovsegError(f"no video stream in {path} ({_HINT})")
    return container


def _file_rate(path: Path) -> float:
    """The frame rate a video file declares (:data:`DEFAULT_FOLDER_FPS` when it declares none)."""
    with _open_container(path) as container:
        stream = container.streams.video[0]
        return float(stream.average_rate or stream.guessed_rate or DEFAULT_FOLDER_FPS)


def _reason(e: Exception) -> str:
    return " ".join(str(getattr(e, "strerror", None) or e).split()) or type(e).__name__


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float, crf: int = 20) -> None:
    """Write RGB frames as browser-playable H.264 (yuv420p, faststart) MP4.

    Args:
        path: output ``.mp4`` path.
        frames: iterable of ``uint8 (H, W, 3)`` RGB frames of one size. Odd
            sizes are padded by one pixel (yuv420p needs even sides).
        fps: frame rate.
        crf: x264 quality (lower is better).
    """
    with VideoWriter(path, fps, crf) as out:
        for frame in frames:
            out.write(frame)


class VideoWriter:
    """:func:`write_video` one frame at a time: ``with VideoWriter(path, fps) as w: w.write(frame)``."""

    def __init__(self, path: str | Path, fps: float, crf: int = 20):
        import av

        self.rate = Fraction(fps).limit_denominator(1001)
        if self.rate <= 0:
            self.rate = Fraction(24)
        self.crf, self.stream = crf, None
        self.out = av.open(str(path), mode="w", options={"movflags": "+faststart"})

    def write(self, frame: np.ndarray) -> None:
        """Encode one ``uint8 (H, W, 3)`` RGB frame (the size of the first)."""
        import av

        h, w = frame.shape[:2]
        if h % 2 or w % 2:
            frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        if self.stream is None:
            self.stream = self.out.add_stream("libx264", rate=self.rate)
            self.stream.width, self.stream.height = frame.shape[1], frame.shape[0]
            self.stream.pix_fmt = "yuv420p"
            self.stream.options = {"crf": str(self.crf), "preset": "veryfast"}
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        self.out.mux(self.stream.encode(vf))

    def close(self) -> None:
        if self.stream is not None:
            self.out.mux(self.stream.encode(None))
            self.stream = None
        self.out.close()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
