"""The segmentation job: read → segment → write, with per-stage timings.

``SegmentConfig.method`` picks the method: ``movseg`` (default: tracks →
track transformer → objects → masks, :mod:`movseg.method`) or one of the
baselines of :mod:`movseg.baselines`. Frames are processed at
``max_side`` and masks are returned at the input's original size.

A video longer than ``SegmentConfig.segment_frames`` is read, segmented and written in overlapping
pieces, with object ids carried from piece to piece (:class:`movseg.objects.Stitcher`), so memory does
not grow with its length.
"""

from __future__ import annotations

import io
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from itertools import islice, repeat
from pathlib import Path

import cv2
import numpy as np

from movseg.baselines import METHODS as BASELINES
from movseg.device import resolve_device
from movseg.errors import MovsegError
from movseg.io.results import ResultWriter, write_results
from movseg.io.video import VideoStream
from movseg.masks import check_segmenter
from movseg.method import MethodConfig, motion_model, segment_moving_objects
from movseg.objects.stitch import MAX_ID, Stitcher
from movseg.types import Segmentation, Tracks, Video, result_name

METHODS = ("movseg", *BASELINES)
PRESETS = {  # --preset: grid spacing, query step, track budget, segmenter settings (docs/benchmarks.md)
    # the paper's grid 10 / 5,000 tracks: 1.08x the wall time of the former grid 14 / 2,500 on `rhino`, DAVIS dev
    # J&F 64.4 against 62.1 (thin subjects: breakdance-flare 28.9 -> 54.4); the full-size flow costs the same
    "fast": {"grid_size": 10, "step": 8, "max_tracks": 5000},
    "balanced": {"grid_size": 5, "step": 8, "max_tracks": 10000},  # the default (MethodConfig's values)
    # more tracks than 10,000 stopped paying once the masks were refined (J&F 62.8 at 20,000 as at 10,000);
    # refining at the full working size does (+0.7 on DAVIS dev, ~0.03 s/frame more)
    "quality": {"grid_size": 5, "step": 8, "max_tracks": 10000, "segmenter_options": {"refine_scale": 1.0}},
}


MIN_PIECE = 8  # the shortest piece a long video may be segmented in


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
    vis_tracks: bool = False  # write tracks.mp4: the tracks over the frames, in their object's colour (grey: none)
    progress: bool = False  # print each stage's time as it finishes
    # A video longer than segment_frames is segmented in pieces of that many frames, each sharing segment_overlap
    # frames with the one before, so that memory stays bounded whatever its length (movseg method only; None or 0:
    # the whole video at once, memory growing with its length). An object keeps its id from one piece to the next
    # when its masks on the shared frames match (IoU >= 0.3), or one holds at least half of the other;
    # each piece writes half of the shared frames. 12 shared frames instead of 24: ~10 % faster, more ids.
    segment_frames: int | None = 150
    segment_overlap: int = 24
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
        cuts: frames where a new shot begins, no track crossing them (movseg method only).
    """

    segmentation: Segmentation
    video: Video
    timings: dict[str, float] = field(default_factory=dict)
    tracks: Tracks | None = None
    dynamic_prob: np.ndarray | None = None
    object_id: np.ndarray | None = None
    threshold: float | None = None
    cuts: list[int] | None = None


def segment_video(source: str | Path | Video, config: SegmentConfig | None = None,
                  full_size: bool = True) -> SegmentResult:
    """Segment the independently moving objects of a video file, a frame folder or a :class:`Video`.

    ``full_size=False`` keeps the labels at the processing size (``result.video``'s frames) instead of
    upsampling them to the input's size: :func:`run_segment` upsamples frame by frame as it writes.
    A video longer than ``config.segment_frames`` is segmented piece by piece (see :class:`SegmentConfig`);
    its result then has no tracks."""
    config = config or SegmentConfig()
    timings: dict[str, float] = {}
    stream, start, rest = _open(source, config, timings)
    if rest is None:
        return _segment_whole(start, config, full_size, timings)
    frames, labels, moving = [], [], []  # the frames only when they are not in memory already

    def keep(name: str, frame: np.ndarray, lab: np.ndarray, moves: np.ndarray, drawing: None) -> None:
        if not isinstance(source, Video):
            frames.append((name, frame))
        labels.append(lab)
        moving.append(moves)

    # tracks.mp4 is run_segment's to write: a Segmentation has no place for the drawings
    scores, thresholds, _, cuts = _segment_pieces(stream, start, rest, replace(config, vis_tracks=False), keep, timings)
    video = source if isinstance(source, Video) else _stack(stream, frames)
    K = len(scores)
    seg = Segmentation(np.stack(labels), np.stack(moving, 1)[1:K + 1], scores)
    t0 = time.perf_counter()
    if full_size:
        seg = _to_size(seg, video.original_size)
        timings["upsample"] = time.perf_counter() - t0
    return SegmentResult(seg, video, timings, threshold=_last(thresholds), cuts=cuts)


def _open(source: str | Path | Video, config: SegmentConfig, timings: dict):
    """``(stream, video, None)`` when the video is to be segmented whole (it is not longer than
    ``config.segment_frames``, or is not to be segmented in pieces), else ``(stream, head, rest)``: a list of
    its first ``(name, frame)`` pairs and an iterator of the others. ``stream`` is the
    :class:`~movseg.io.video.VideoStream` (or the :class:`Video` itself) the frames come from."""
    if config.method not in METHODS:
        raise MovsegError(f"unknown method {config.method!r}: choose one of {', '.join(METHODS)}")
    length, overlap = config.segment_frames, config.segment_overlap
    if length and length < MIN_PIECE:
        raise MovsegError(f"segment length must be 0 (the whole video at once) or at least {MIN_PIECE} frames, "
                          f"got {length}")
    if length and not 1 <= overlap <= length // 2:
        raise MovsegError(f"segment overlap must be from 1 to half the segment length ({length // 2}), got {overlap}")
    if config.vis_tracks and config.method != "movseg":
        raise MovsegError(f"the {config.method} baseline makes no tracks to draw: drop --vis-tracks")
    if config.method == "movseg":  # settings that would fail after tracking fail now
        resolve_device(config.movseg.device)
        check_segmenter(config.movseg.segmenter, **config.movseg.segmenter_options)
        if config.movseg.motion == "transformer" and config.movseg.weights is not None:
            motion_model(config.movseg.weights, "cpu")
    pieces = bool(length) and config.method == "movseg"
    t0 = time.perf_counter()
    if isinstance(source, Video):
        if not pieces or source.num_frames <= length:
            return source, source, None
        stream, frames = source, zip(source.names, source.frames)
    else:
        stream = VideoStream(source, max_side=config.max_side, stride=config.stride, max_frames=config.max_frames)
        frames = iter(stream)
    head = list(islice(frames, length + 1 if pieces else None))  # one frame more tells whether it is longer
    timings["read"] = time.perf_counter() - t0
    if pieces and len(head) > length:
        return stream, head, frames
    return stream, _stack(stream, head), None


def _stack(stream, pairs: list) -> Video:
    """A :class:`Video` of the ``(name, frame)`` pairs ``pairs`` from ``stream`` (a
    :class:`~movseg.io.video.VideoStream` or a :class:`Video`). Empties ``pairs``, so that the frames are held
    once."""
    names = [n for n, _ in pairs]
    frames = np.stack([f for _, f in pairs])
    pairs.clear()
    return Video(frames, float(stream.fps), names, stream.source, stream.original_size)


def _segment_whole(video: Video, config: SegmentConfig, full_size: bool, timings: dict) -> SegmentResult:
    """:func:`segment_video` of a video held whole in memory."""
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
                         out.threshold, out.cuts)


def _segment_pieces(stream, head: list, rest, config: SegmentConfig, emit, timings: dict, save=None):
    """Segment a long video in overlapping pieces (:class:`SegmentConfig`), calling
    ``emit(name, frame, labels uint8 (H, W), moving bool (256,), drawing)`` for each frame in order, with ids that
    hold over the whole video (``moving[k]``: object k moves; ``drawing``: the frame of tracks.mp4, or None
    unless ``config.vis_tracks``), and ``save(first, last, tracks, dynamic_prob,
    object_id)`` with each piece's tracks (in original-frame pixels, frames counted from ``first``; object ids
    those of the whole video) when given. ``head`` holds the first piece and one frame more (it is
    emptied), ``rest`` yields the others. Returns ``(scores float32 (K,), each piece's grouping threshold (None:
    too short to group), inclusive [first, last] frames of each piece, the frames where a new shot begins)``."""
    length, overlap = config.segment_frames, config.segment_overlap
    cut = overlap // 2  # of the last `overlap` frames of a piece, it writes the first `cut`, the next piece the rest
    stitcher = Stitcher(overlap)
    score_sum, score_n = np.zeros(256), np.zeros(256)
    ahead = head[length:]  # one frame: there is more to come
    video, first, shared, thresholds, pieces, cuts = _stack(stream, head[:length]), 0, 0, [], [], set()
    head.clear()
    while True:
        last, T = not ahead, video.num_frames
        if config.progress:
            print(f"  frames {first}-{first + T - 1}", file=sys.stderr, flush=True)
        out = segment_moving_objects(video, config.movseg, progress=config.progress)
        for k, v in out.timings.items():
            timings[k] = timings.get(k, 0.0) + v
        seg = out.segmentation
        thresholds.append(out.threshold)
        start = 0 if first == 0 else shared - overlap + cut  # the first frame this piece writes
        lut = stitcher.ids(seg.labels, shared - overlap, start)
        K = seg.num_objects
        tracks = np.bincount(out.object_id, minlength=K + 1)[1:K + 1]
        np.add.at(score_sum, lut[1:K + 1], seg.scores * tracks)
        np.add.at(score_n, lut[1:K + 1], tracks)
        pieces.append([first, first + T - 1])
        cuts.update(first + c for c in out.cuts)  # a cut in the shared frames is found by both pieces
        if save is not None:
            save(first, first + T - 1, _to_original(out.tracks, video), out.dynamic_prob, lut[out.object_id])
        end = T if last else T - (overlap - cut)
        drawings = repeat(None)
        if config.vis_tracks:
            from movseg.tracking.viz import draw_tracks

            drawings = islice(draw_tracks(video, out.tracks, object_id=lut[out.object_id]), start, end)
        for t, drawing in zip(range(start, end), drawings):
            moves = np.zeros(256, bool)
            moves[lut[1:K + 1][seg.moving[:, t]]] = True
            moves[0] = False  # objects dropped past the last id
            emit(video.names[t], video.frames[t], lut[seg.labels[t]], moves, drawing)
        del out, seg
        if last:
            break
        t0 = time.perf_counter()
        new = ahead + list(islice(rest, length - overlap - len(ahead)))
        ahead = list(islice(rest, 1))
        # the next piece shares `overlap` frames with this one; the last piece shares more, to be as long as a
        # piece: a few frames alone would be too short to tell what moves
        shared = overlap if ahead else min(T, max(overlap, length - len(new)))
        first += T - shared
        pairs = list(zip(video.names[T - shared:], video.frames[T - shared:]))  # views: `video` stays till stacked
        del video
        video = _stack(stream, pairs + new)
        del pairs, new
        timings["read"] += time.perf_counter() - t0
    if stitcher.dropped:
        print(f"movseg: warning: {stitcher.dropped} objects past id {MAX_ID} were left out of the masks",
              file=sys.stderr)
    K = stitcher.count
    scores = (score_sum[1:K + 1] / np.maximum(score_n[1:K + 1], 1)).astype(np.float32)
    return scores, thresholds, pieces, sorted(cuts)


def _last(values: list):
    """The last of ``values`` that is not None (None if there is none)."""
    return next((v for v in reversed(values) if v is not None), None)


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
                name: str | None = None) -> tuple[Path, SegmentResult | None]:
    """Segment ``source`` and write ``<out_root>/<name>/`` atomically (``name`` defaults to the
    input folder's name or the video file's stem); returns (that folder, result).

    The masks are written at the input's size, upsampled one frame at a time (a 4K video's masks are
    never all in memory at full size); the returned result's labels stay at the processing size. A video
    longer than ``config.segment_frames`` is segmented and written piece by piece, so neither its frames nor
    its masks are ever all in memory; the result is then None, and ``config.save_tracks`` writes each
    piece's tracks to ``tracks/<first>-<last>.npz``."""
    from movseg.io.results import check_output_folder

    config = config or SegmentConfig()
    check_output_folder(out_root)
    timings: dict[str, float] = {}
    stream, start, rest = _open(source, config, timings)
    info = {"timings": timings, "config": asdict(config)}
    if config.method == "movseg":  # the device "auto" picked, beside the one asked for in the config
        info["device"] = resolve_device(config.movseg.device)
    if rest is None:
        result = _segment_whole(start, config, False, timings)
        if result.threshold is not None:
            info["grouping_threshold"] = result.threshold
        if result.cuts is not None:
            info["cuts"] = result.cuts
        extra = {}
        if config.save_tracks and result.tracks is not None:
            extra["tracks.npz"] = _tracks_npz(result.tracks, result.dynamic_prob, result.object_id)
        drawings = _draw_tracks(result) if config.vis_tracks else None
        folder = write_results(out_root, result.video, result.segmentation, info, overlay=config.overlay,
                               extra_files=extra, name=name, size=result.video.original_size, tracks_frames=drawings)
        return folder, result
    moving = []
    with ResultWriter(out_root, name or result_name(stream.source), stream.source, stream.fps, stream.original_size,
                      config.overlay, config.vis_tracks) as out:

        def write(frame_name: str, frame: np.ndarray, labels: np.ndarray, moves: np.ndarray, drawing) -> None:
            out.add(frame_name, frame, labels, drawing)
            moving.append(moves)

        def save(first: int, last: int, tracks: Tracks, prob: np.ndarray, object_id: np.ndarray) -> None:
            out.add_file(f"tracks/{first:05d}-{last:05d}.npz", _tracks_npz(tracks, prob, object_id))

        scores, thresholds, pieces, cuts = _segment_pieces(stream, start, rest, config, write, timings,
                                                           save if config.save_tracks else None)
        # each piece groups at its own threshold when it is chosen per video (--threshold auto)
        info.update(grouping_threshold=_last(thresholds), piece_thresholds=thresholds, cuts=cuts, pieces=pieces)
        K = len(scores)
        return out.finish(np.stack(moving, 1)[1:K + 1], scores, info), None


def _draw_tracks(result: SegmentResult):
    """The frames of tracks.mp4 for a video segmented whole: its tracks drawn on the frames as processed."""
    from movseg.tracking.base import rescale_xy
    from movseg.tracking.viz import draw_tracks

    (h0, w0), video, tracks = result.video.original_size, result.video, result.tracks
    xy = rescale_xy(tracks.xy, video.width / w0, video.height / h0)  # back from original-frame pixels
    return draw_tracks(video, Tracks(xy, tracks.visible, tracks.confidence, tracks.query_frame),
                       object_id=result.object_id)


def _tracks_npz(tracks: Tracks, prob: np.ndarray, object_id: np.ndarray) -> bytes:
    """The ``tracks.npz`` file: the tracker's keys plus ``dynamic_prob`` and ``object_id``."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **tracks.to_npz_dict(), dynamic_prob=prob.astype(np.float32),
                        object_id=object_id.astype(np.int32))
    return buf.getvalue()
