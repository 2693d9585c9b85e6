"""Training samples for the track transformer: our tracker's tracks on rendered scenes and DAVIS sequences.

One sample = one video: ``points float16 (N, T, F)``, ``valid bool (N, T)``,
``appearance float16 (N, A)``, ``label uint8 (N,)`` (1 = the track's object
moves at some point of the clip), ``ignore bool (N,)`` (label unreliable:
DAVIS points within 3 px of a mask boundary). Samples are cached as ``.npz``
files, one per video, so training never re-renders or re-tracks.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from functools import partial
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage

from movseg.errors import MovsegError
from movseg.method import tracker_options
from movseg.motion.cues import CueConfig, track_cues
from movseg.tracking import build_tracker, make_queries
from movseg.tracking.base import queries_from_tracks
from movseg.types import Tracks, Video

# The cue settings a sample was made with travel in it; samples made with others are refused, since a model
# trained on them would not see what `movseg segment` computes (the camera fits changed on 2026-11-23)
CUES = json.dumps(asdict(CueConfig()), sort_keys=True)


def synth_sample(seed: int, index: int, preset: str = "train", tracker: str = "flow", options: dict | None = None,
                 depth: bool = False, exact: bool = False) -> dict:
    """Render scene ``index`` of ``seed``, track its ground-truth queries with our tracker (``options``: its
    settings, by default the pipeline's), label them. ``depth``: add the depth channels, from the renderer's
    exact depth (the best a depth backend could give). ``exact``: the renderer's own tracks instead of ours
    (positions and visibility without error: the best a tracker could give)."""
    from movseg.synth.generate import generate_scene

    scene = generate_scene(seed, index, preset)
    video = Video(scene.frames, 24.0, [f"{i:05d}" for i in range(len(scene.frames))])
    if exact:
        vis = scene.tracks["visible"]
        tracks = Tracks(scene.tracks["xy"], vis, vis.astype(np.float32), scene.tracks["query_frame"])
    else:
        queries = queries_from_tracks(scene.tracks["xy"], scene.tracks["query_frame"])
        tracks = build_tracker(tracker, **tracker_options(tracker, options))(video, queries)
    oid = scene.tracks["object_id"]  # (N,) 0 = scenery
    ever = np.concatenate([[False], scene.moving.any(axis=1)])  # indexed by object id
    label = ever[oid]
    return _pack(track_cues(video, tracks, depth=scene.depth if depth else None), label, np.zeros(len(label), bool))


def davis_sample(root: str | Path, sequence: str, grid_size: int = 10, step: int = 8, max_tracks: int | None = 5000,
                 boundary_px: float = 3.0, tracker: str = "flow", stride: int = 1, offset: int = 0,
                 options: dict | None = None) -> dict:
    """Track a DAVIS sequence (SegAnyMo grid) and label each track by the ground-truth foreground at its
    query point; points within ``boundary_px`` of the mask boundary are marked ``ignore``. With
    ``stride`` > 1 the video is every ``stride``-th frame from ``offset``: the same scene with
    ``stride`` times the motion per frame, tracked anew."""
    from movseg.io.video import read_video

    root = Path(root)
    video = read_video(root / "JPEGImages" / "480p" / sequence)
    if stride > 1:
        video = Video(video.frames[offset::stride], video.fps / stride, video.names[offset::stride], video.source)
    q = make_queries(video.num_frames, video.height, video.width, grid_size, step, max_tracks)
    tracks = build_tracker(tracker, **tracker_options(tracker, options))(video, q)
    label, ignore = davis_labels(root / "Annotations" / "480p" / sequence, video.names, q, boundary_px)
    return _pack(track_cues(video, tracks), label, ignore)


def davis_labels(annotations: Path, names: list[str], queries: np.ndarray, boundary_px: float = 3.0):
    """``label bool (N,)``: the query point lies on the ground-truth foreground of its frame;
    ``ignore bool (N,)``: it lies within ``boundary_px`` of the mask boundary (either side)."""
    label, dist, has_fg = query_mask_distance(annotations, names, queries)
    return label, has_fg & (dist <= boundary_px)


def query_mask_distance(annotations: Path, names: list[str], queries: np.ndarray):
    """For queries ``(N, 3)`` ``(t, x, y)``: ``on bool (N,)`` the point lies on the ground-truth mask of
    its frame, ``dist float (N,)`` its distance in px to the mask boundary on its own side, and
    ``has_fg bool (N,)`` its frame's mask is not empty."""
    from movseg.io.masks import read_mask

    on = np.zeros(len(queries), bool)
    dist = np.zeros(len(queries))
    has_fg = np.zeros(len(queries), bool)
    for t in np.unique(queries[:, 0]).astype(int):
        fg = read_mask(annotations / f"{names[t]}.png") > 0
        inside = ndimage.distance_transform_edt(fg)  # fg pixels: distance to the background
        outside = ndimage.distance_transform_edt(~fg)  # bg pixels: distance to the foreground
        rows = np.flatnonzero(queries[:, 0] == t)
        x = np.clip(np.round(queries[rows, 1]).astype(int), 0, fg.shape[1] - 1)
        y = np.clip(np.round(queries[rows, 2]).astype(int), 0, fg.shape[0] - 1)
        on[rows] = fg[y, x]
        dist[rows] = np.where(fg, inside, outside)[y, x]
        has_fg[rows] = fg.any()
    return on, dist, has_fg


def _pack(cues, label, ignore) -> dict:
    return {"points": cues.points.astype(np.float16), "valid": cues.valid, "appearance": cues.appearance.astype(np.float16),
            "label": label.astype(np.uint8), "ignore": ignore, "cues": np.array(CUES)}


def _write(path: Path, fn, *args) -> str:
    if not path.exists():
        cv2.setNumThreads(1)
        sample = fn(*args)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez_compressed(tmp, **sample)
        os.replace(tmp, path)
    return path.name


def prepare_synth(cache: str | Path, seed: int, scenes: int, preset: str = "train", workers: int = 1,
                  progress: bool = True, options: dict | None = None, depth: bool = False,
                  exact: bool = False) -> list[Path]:
    """Cache samples of scenes ``0..scenes-1`` of ``seed`` in ``cache/<preset>-<seed>/`` (existing ones are kept;
    see :func:`claim_cache` for other tracker ``options``); with the depth channels (``depth``) and on the
    renderer's exact tracks (``exact``, see :func:`synth_sample`) in folders suffixed ``-depth`` / ``-exact``."""
    claim_cache(cache, options)
    folder = Path(cache) / (f"{preset}-{seed}" + ("-depth" if depth else "") + ("-exact" if exact else ""))
    folder.mkdir(parents=True, exist_ok=True)
    sample = partial(synth_sample, options=options, depth=depth, exact=exact)
    jobs = [(folder / f"{i:05d}.npz", sample, seed, i, preset) for i in range(scenes)]
    _run(jobs, workers, progress, f"tracks {preset}-{seed}")
    return [j[0] for j in jobs]


def prepare_davis(cache: str | Path, root: str | Path, sequences: list[str], workers: int = 1,
                  progress: bool = True, strides: tuple[int, ...] = (1,), options: dict | None = None) -> list[Path]:
    """Cache samples of DAVIS sequences in ``cache/davis/``: for each stride s, one per offset
    0..s-1 (``<seq>.npz`` at stride 1, ``<seq>-s<s>o<offset>.npz`` otherwise)."""
    claim_cache(cache, options)
    folder = Path(cache) / "davis"
    folder.mkdir(parents=True, exist_ok=True)
    jobs = []
    for s in sequences:
        for st in strides:
            for o in range(st):
                name = f"{s}.npz" if st == 1 else f"{s}-s{st}o{o}.npz"
                jobs.append((folder / name, partial(davis_sample, stride=st, offset=o, options=options), str(root), s))
    _run(jobs, workers, progress, "tracks davis")
    return [j[0] for j in jobs]


def claim_cache(cache: str | Path, options: dict | None = None) -> None:
    """Record in ``cache/tracker.json`` the `flow` tracker settings its samples are made with (``options``;
    None: the pipeline's), or refuse with a :class:`MovsegError` a cache made with other settings or with
    no record: its tracks would differ from those the model is trained or measured for."""
    cache = Path(cache)
    record = cache / "tracker.json"
    wanted = tracker_options("flow", options)
    if record.exists():
        made = json.loads(record.read_text())
        if made != wanted:
            raise MovsegError(f"cache {cache} holds tracks made with tracker settings {made}, not {wanted}: "
                              "give another cache folder")
        return
    if any(cache.glob("*/*.npz")):
        raise MovsegError(f"cache {cache} has no record of the tracker settings that made it (an older movseg): "
                          "delete it or give another cache folder")
    cache.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(wanted, sort_keys=True) + "\n")


def _run(jobs, workers: int, progress: bool, desc: str) -> None:
    from tqdm import tqdm

    todo = [j for j in jobs if not j[0].exists()]
    if not todo:
        return
    bar = tqdm(total=len(todo), desc=desc, disable=not progress)
    if workers <= 1:
        for j in todo:
            _write(*j)
            bar.update()
    else:
        # spawn, not fork: a forked child of a process whose torch thread pool has run deadlocks
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as ex:
            for _ in ex.map(_write, *zip(*todo)):
                bar.update()
    bar.close()


def load_sample(path: str | Path) -> dict:
    """The sample cached at ``path``; a :class:`MovsegError` if its cues were made with other settings."""
    with np.load(path) as z:
        if "cues" not in z.files or str(z["cues"]) != CUES:
            raise MovsegError(f"{path} was cached with other cue settings (an older movseg): delete "
                              f"{Path(path).parent} or give another cache folder")
        return {k: z[k] for k in z.files if k != "cues"}
