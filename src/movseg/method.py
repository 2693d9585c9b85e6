"""The movseg method: tracks → cues → P(dynamic) per track → objects → dense masks → motion states.

:func:`segment_moving_objects` runs the stages on a :class:`~movseg.types.Video`
and returns the :class:`~movseg.types.Segmentation` plus what the stages
produced (tracks, P(dynamic), object id per track) and seconds per stage.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np

from movseg.errors import MovsegError
from movseg.objects import (FragmentConfig, GapConfig, GroupConfig, group_tracks, join_across_gaps, join_fragments,
                            resolve_threshold, video_threshold, video_threshold_span)
from movseg.types import Segmentation, Tracks, Video


MIN_FRAMES = 3  # shorter videos give empty masks: one frame has no motion, two too little to trust

# The shipped track transformer learnt from `flow` tracks without long links and with DIS at full size. Links cost
# J&F (62.6 against 62.8; trained on linked tracks 61.9: docs/tracking.md, "Long links"); DIS's default finest
# scale, half size, lets small objects' tracks lag and slide off them (docs/tracking.md, "Retrained on full-size
# flow"). The pipeline and the training data made for it share these settings.
PIPELINE_FLOW = {"link": 0, "finest_scale": 0}


def tracker_options(tracker: str, options: dict | None = None) -> dict:
    """The settings the pipeline gives ``tracker``: ``options``, or by default ``PIPELINE_FLOW`` for ``flow``."""
    if options is not None:
        return options
    return dict(PIPELINE_FLOW) if tracker == "flow" else {}


@dataclass
class MethodConfig:
    tracker: str = "flow"  # tracking backend (registry name)
    tracker_options: dict | None = None  # its settings (None: `tracker_options(tracker)`, the flow tracker without links)
    # Denser than the paper's grid 10 / 5,000 tracks: the masks stage interpolates between track points, and
    # twice the points cost ~0.03 s/frame but gain 3.8 J&F on DAVIS dev (docs/benchmarks.md)
    grid_size: int = 5  # query grid spacing, px at the processing resolution (paper: 10)
    step: int = 8  # query frames every `step` frames (paper: 8)
    max_tracks: int | None = 10000  # sample at most this many queries (paper: 5000)
    weights: str | None = None  # track-transformer .safetensors (None: the weights shipped in the package)
    motion: str = "transformer"  # "transformer" or "geometric" (the non-learned baseline)
    device: str = "auto"  # torch device of the track transformer: auto (cuda, mps, cpu), cpu, cuda[:N], mps
    # Score the whole video at once (None) and, for each window length given, in windows of that many frames.
    # Windows of the training length (24) rank tracks better (held-out DAVIS AUC 0.973 -> 0.985) but give slow
    # movers lower P; the whole video gives them more, and gives the parallax of long pans more too. With both,
    # a track's P is its windowed P, raised by the whole video's by at most `motion_lift` logits (None: its
    # highest P); the whole video then scores only the tracks that the lift can carry over the grouping
    # threshold, with three others each (about a tenth of the tracks on DAVIS; docs/motion.md, "A capped
    # lift", "The lift where it can matter")
    motion_windows: tuple[int | None, ...] = (None, 24)
    motion_lift: float | None = 1.2
    segmenter: str = "tracks"  # promptable segmenter backend (registry name)
    segmenter_options: dict = field(default_factory=dict)  # the backend's settings, e.g. {"refine_scale": 1.0}
    # Backends prompted with a few points (SAM2) are prompted on the frame where an object shows most tracks
    # and again every this many frames (SegAnyMo re-prompts at regular intervals along the tracks)
    prompt_every: int = 15
    moving_threshold: float = 1.2  # an object moves at t when its points' median 4-frame residual exceeds this
    # Stray points: on a frame where an object moves (the same rule as its motion state, moving_threshold) a
    # point of one of its tracks whose own 4-frame residual stays below stray_still moves with the camera, so it
    # is not on the object there: a background point that the object covers and then carries, or one it leaves
    # behind. It prompts as background of that object on that frame (0: off). Chosen on the synthetic validation
    # scenes and the fifteen DAVIS dev sequences the track transformer trained on: DAVIS dev J&F 65.4 -> 66.0,
    # the held-out five 64.1 -> 64.6 (docs/benchmarks.md, "Stray points")
    stray_still: float = 0.7
    group: GroupConfig = field(default_factory=GroupConfig)
    # Choose the grouping threshold per video from its tracks' P (`movseg.objects.video_threshold`), starting
    # from group.threshold or the weights' own. Off: it rescues slow movers that unseen video puts just under
    # the threshold, but finds more false objects on long pans (docs/motion.md, "A threshold per video").
    # Measured with the track transformer only; with --motion geometric it reads the baseline's P the same way
    auto_threshold: bool = False
    # Merge objects whose masks touch on most frames (limbs grouped apart from the body; SegAnyMo merges
    # overlapping masks). Off: on the synthetic test scenes it also joins objects that cross each other's
    # path (per-object J&F 38.9 -> 37.5; DAVIS dev 59.9 -> 60.3; docs/benchmarks.md, "Fragments of one object")
    merge_fragments: bool = False
    fragments: FragmentConfig = field(default_factory=FragmentConfig)
    # An object whose tracks all end and one whose tracks all begin at most gaps.max_gap frames later, where
    # the first one's motion takes it, are one object (a mover behind a static occluder; movseg.objects.gaps).
    # Presence is judged on the points whose 1-frame residual exceeds moving_threshold. No DAVIS dev or
    # synthetic test score changed (docs/benchmarks.md, "One id through a short occlusion")
    gaps: GapConfig = field(default_factory=GapConfig)


@dataclass
class MethodOutput:
    segmentation: Segmentation
    tracks: Tracks
    dynamic_prob: np.ndarray  # float32 (N,)
    object_id: np.ndarray  # int32 (N,), 0 = not part of a moving object
    timings: dict
    threshold: float | None = None  # the P(dynamic) grouping threshold used (None: the video was too short)
    core_prob: np.ndarray | None = None  # float32 (N,): P(dynamic) before the whole video's lift (None: too short)
    cuts: list[int] = field(default_factory=list)  # frames where a new shot begins (no track crosses them)


def motion_model(weights: str | None, device: str = "auto"):
    """The track transformer the pipeline runs (``weights`` None: the shipped one); a :class:`MovsegError` for
    weights it cannot run: not a movseg checkpoint, or one that reads depth cues (no depth backend yet)."""
    from movseg.motion import load_model

    model = load_model(weights, device=device)
    if model.config.depth:
        raise MovsegError(f"{weights} reads depth cues, and movseg has no depth backend yet: use weights trained "
                          "without depth")
    return model


def segment_moving_objects(video: Video, config: MethodConfig | None = None, progress: bool = False) -> MethodOutput:
    """Run every stage on ``video`` (frames at the processing resolution)."""
    from movseg.masks import build_segmenter
    from movseg.tracking import make_queries, track_shots

    cfg = config or MethodConfig()
    if cfg.motion not in ("transformer", "geometric"):
        raise MovsegError(f"unknown motion model {cfg.motion!r}: choose transformer or geometric")
    timings: dict[str, float] = {}
    clock = _Clock(timings, progress)
    T, H, W = video.num_frames, video.height, video.width
    if T < MIN_FRAMES:  # documented: too short to tell object motion from noise
        empty = Tracks(np.zeros((0, T, 2), np.float32), np.zeros((0, T), bool), np.zeros((0, T), np.float32),
                       np.zeros(0, np.int32))
        return MethodOutput(Segmentation.empty(T, H, W), empty, np.zeros(0, np.float32), np.zeros(0, np.int32), timings)
    # torch takes ~2.5 s to import; it overlaps the tracker, which leaves CPU time for it (rhino, whole command:
    # median wall time 0.92x of importing it first)
    preload = threading.Thread(target=_import_quietly, args=("movseg.motion",), daemon=True)
    preload.start()
    with clock("track"):
        q = make_queries(T, H, W, cfg.grid_size, cfg.step, cfg.max_tracks)
        tracks, cuts = track_shots(video, cfg.tracker, queries=q, **tracker_options(cfg.tracker, cfg.tracker_options))
    preload.join()
    from movseg.motion import geometric_dynamic, predict_dynamic_lifted, track_cues

    with clock("cues"):
        cues = track_cues(video, tracks)
    segmenter_options = cfg.segmenter_options
    with clock("motion"):
        if cfg.motion == "transformer":
            model = motion_model(cfg.weights, cfg.device)
            group = replace(cfg.group, threshold=resolve_threshold(cfg.group.threshold, model.threshold))
            if cfg.segmenter == "tracks" and model.small_min_score is not None:  # calibrated on these weights' P
                segmenter_options = {"small_min_score": model.small_min_score, **segmenter_options}
            gate = group.threshold
            if cfg.auto_threshold:  # the whole video lifts every track that can move the choice of a threshold
                lo, hi = video_threshold_span()
                gate = (min(lo, gate), max(hi, gate))
            prob, core = predict_dynamic_lifted(model, cues, cfg.motion_windows, lift=cfg.motion_lift, threshold=gate)
        else:
            group = replace(cfg.group, threshold=resolve_threshold(cfg.group.threshold))
            prob = core = geometric_dynamic(cues)
        if cfg.auto_threshold:
            group = replace(group, threshold=video_threshold(prob, group.threshold))
    with clock("objects"):
        object_id = join_across_gaps(tracks, group_tracks(tracks, prob, (H, W), group, core), (H, W), cfg.gaps,
                                     moving_points(cues, cfg.moving_threshold), cuts)
    with clock("masks"):
        labels = np.zeros((T, H, W), np.uint8)
        K = int(object_id.max(initial=0))
        if K:
            segmenter = build_segmenter(cfg.segmenter, **segmenter_options)
            state = segmenter.init_state(video)
            stray = stray_points(cues, object_id, cfg.moving_threshold, cfg.stray_still)
            prompt_objects(segmenter, state, tracks, object_id, prob, group.threshold, cfg.prompt_every, stray)
            for f, ids, masks in segmenter.propagate(state):
                for k, m in zip(ids, masks):
                    labels[f][m] = k
            if cfg.merge_fragments:
                labels, object_id = join_fragments(labels, object_id, cfg.fragments)
    with clock("states"):
        labels, object_id, K = _renumber(labels, object_id)
        moving = motion_states(cues.points, cues.valid, object_id, labels, cfg.moving_threshold)
        scores = np.array([prob[object_id == k].mean() for k in range(1, K + 1)], np.float32)
    seg = Segmentation(labels, moving, scores if K else np.zeros(0, np.float32))
    return MethodOutput(seg, tracks, prob.astype(np.float32), object_id.astype(np.int32), timings, group.threshold,
                        core.astype(np.float32), cuts)


def prompt_objects(segmenter, state, tracks: Tracks, object_id: np.ndarray, prob: np.ndarray, threshold: float,
                   every: int = 15, stray: np.ndarray | None = None) -> None:
    """Prompt the objects. Backends that want dense prompts get every frame: each object's visible tracks
    are positives, every other visible track (static ones and other objects') negatives; an object's points
    that ``stray`` ``bool (N, T)`` marks (:func:`stray_points`) are negatives of it on their frame. The others get
    the SegAnyMo scheme: per object, the densest point and the two points farthest from it, on the frame
    where most of its tracks are visible, and again every ``every`` frames before and after it where at
    least a fifth as many (and 3) are visible. A state that keeps scores (:class:`~movseg.masks.SegmenterState`)
    gets each object's mean P(dynamic)."""
    from movseg.masks import SegmenterState

    if every < 1:
        raise MovsegError(f"prompt interval must be at least 1 frame, got {every}")
    K = int(object_id.max(initial=0))
    static = (object_id == 0) & (prob < threshold)
    for k in range(1, K + 1):
        mine = object_id == k
        if isinstance(state, SegmenterState):
            state.scores[k] = float(prob[mine].mean())
        on = tracks.visible & mine[:, None]  # (N, T) the object's points
        if stray is not None:
            on &= ~stray
        counts = on.sum(0)  # (T,) the object's points per frame
        frames = np.flatnonzero(counts) if segmenter.dense_prompts else _reprompt_frames(counts, every)
        for f in frames:
            vis = tracks.visible[:, f]
            pos = on[:, f]
            if segmenter.dense_prompts:
                neg = vis & ~pos & (static | (object_id > 0))
                pts = np.concatenate([tracks.xy[pos, f], tracks.xy[neg, f]])
                lab = np.r_[np.ones(pos.sum(), int), np.zeros(neg.sum(), int)]
            else:
                pts = sparse_prompt(tracks.xy[pos, f])
                lab = np.ones(len(pts), int)
            segmenter.add_points(state, int(f), k, pts, lab)


def stray_points(cues, object_id: np.ndarray, moving: float, still: float) -> np.ndarray:
    """``bool (N, T)``: points of an object's tracks that are not on the object on their frame. On frame t
    object k moves when the median 4-frame residual against the camera (cue ``res_hk``) of its points with
    one exceeds ``moving``, from at least 3 points; a point of its tracks whose own residual is below
    ``still`` there moves with the camera, not with the object. Points without a residual (fewer than the
    cue's frames valid) are never stray. ``still`` 0: none is."""
    from movseg.motion.cues import POINT_CHANNELS

    res = cues.points[..., POINT_CHANNELS.index("res_hk")]
    has = cues.valid & (res > 0)  # the residual needs both ends valid; 0 where it is undefined
    stray = np.zeros(has.shape, bool)
    if still <= 0:
        return stray
    for k in range(1, int(object_id.max(initial=0)) + 1):
        rows = np.flatnonzero(object_id == k)
        stray[rows] = has[rows] & (res[rows] < still) & (_median_per_frame(res, has, rows) > moving)[None]
    return stray


def _median_per_frame(res: np.ndarray, ok: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``float (T,)``: per frame, the median of ``res`` ``(N, T)`` over the ``rows`` points where ``ok``
    ``bool (N, T)``; NaN on frames with fewer than 3 of them (an object's residual, as its motion state reads it)."""
    r = np.where(ok[rows], res[rows], np.nan)
    known = ok[rows].sum(0) >= 3
    med = np.full(res.shape[1], np.nan)
    med[known] = np.nanmedian(r[:, known], axis=0)
    return med


def _reprompt_frames(counts: np.ndarray, every: int) -> np.ndarray:
    """Frames to prompt an object with ``counts`` ``(T,)`` visible tracks per frame: its best frame, and every
    ``every`` frames before and after it where at least a fifth as many (and 3) are visible."""
    best = int(np.argmax(counts))
    if not counts[best]:
        return np.zeros(0, int)
    grid = np.arange(best % every, len(counts), every)
    return grid[(grid == best) | (counts[grid] >= max(3, counts[best] / 5))]


def sparse_prompt(points: np.ndarray) -> np.ndarray:
    """SegAnyMo prompts ``(≤3, 2)``: the densest point (most neighbours within the median spacing)
    and the two points farthest from it."""
    if len(points) <= 3:
        return points
    d = np.linalg.norm(points[:, None] - points[None], axis=2)
    radius = np.median(np.sort(d, axis=1)[:, 1]) * 2
    densest = int(np.argmax((d < radius).sum(1)))
    far = np.argsort(-d[densest])[:2]
    return points[[densest, *far]]


def moving_points(cues, threshold: float) -> np.ndarray:
    """``bool (N, T)``: valid points whose residual against the camera motion since the frame before (cue
    ``res_h1``) exceeds ``threshold``. A point that stops is still at once: the longer residual ``res_hk``
    would call it moving for a few more frames."""
    from movseg.motion.cues import POINT_CHANNELS

    return cues.valid & (cues.points[..., POINT_CHANNELS.index("res_h1")] > threshold)


def motion_states(points: np.ndarray, valid: np.ndarray, object_id: np.ndarray, labels: np.ndarray,
                  threshold: float) -> np.ndarray:
    """``bool (K, T)``: object k moves at t when it is present and the median residual of its valid
    points against the camera motion over the last few frames (cue ``res_hk``) exceeds ``threshold``;
    frames without any valid point inherit the nearest decided frame."""
    from movseg.motion.cues import POINT_CHANNELS

    K, T = int(object_id.max(initial=0)), labels.shape[0]
    res = points[..., POINT_CHANNELS.index("res_hk")]
    ok = valid.copy()
    ok[:, 0] = False  # frame 0 has no residual (it looks back)
    moving = np.zeros((K, T), bool)
    for k in range(1, K + 1):
        med = _median_per_frame(res, ok, np.flatnonzero(object_id == k))
        known = ~np.isnan(med)
        if not known.any():
            continue
        idx = np.flatnonzero(known)
        nearest = idx[np.abs(np.arange(T)[:, None] - idx[None]).argmin(1)]
        state = med[nearest] > threshold
        state = _majority(state, 5)
        moving[k - 1] = state & (labels.reshape(T, -1) == k).any(1)
    return moving


def _majority(flags: np.ndarray, width: int) -> np.ndarray:
    """Sliding majority vote over ``width`` frames (removes one- and two-frame flickers)."""
    if len(flags) < width:
        return flags
    pad = width // 2
    f = np.pad(flags.astype(float), pad, mode="edge")
    return np.convolve(f, np.ones(width) / width, mode="valid") > 0.5


def _renumber(labels: np.ndarray, object_id: np.ndarray):
    """Drop objects that got no pixels; the others keep their order (by number of tracks) as ids 1..K."""
    present = [k for k in range(1, int(object_id.max(initial=0)) + 1) if (labels == k).any()]
    lut = np.zeros(256, np.uint8)
    new_id = np.zeros(int(object_id.max(initial=0)) + 1, np.int32)
    for i, k in enumerate(present, start=1):
        lut[k] = i
        new_id[k] = i
    return lut[labels], new_id[object_id], len(present)


def _import_quietly(module: str) -> None:
    """Import ``module`` (on a helper thread); a failure is left for the caller's own import to raise."""
    try:
        importlib.import_module(module)
    except ImportError:
        pass


def _malloc_trim():
    """glibc's ``malloc_trim``, or None where there is none."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()


def _release_memory() -> None:
    """Give the heap memory that the stage just freed back to the OS (glibc only; elsewhere a no-op).

    glibc raises its mmap threshold each time a large block is freed, so after the tracker frees its flows,
    blocks of up to 32 MB come from the heap, and freed heap memory stays with the process. Without this, a
    270-frame clip held the tracker's 0.77 GB of freed flows through every later stage (peak 1.84 GB).
    """
    if _TRIM is not None:
        _TRIM(0)


class _Clock:
    """``with clock("stage"):`` adds the stage's seconds to ``timings`` (and prints them when ``progress``);
    the memory the stage freed goes back to the OS before the next one starts."""

    def __init__(self, timings: dict, progress: bool):
        self.timings, self.progress = timings, progress

    @contextmanager
    def __call__(self, name: str):
        t0 = time.perf_counter()
        yield
        _release_memory()
        dt = time.perf_counter() - t0
        self.timings[name] = self.timings.get(name, 0.0) + dt
        if self.progress:
            print(f"  {name:<8} {dt:6.2f} s", file=sys.stderr, flush=True)
