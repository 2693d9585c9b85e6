"""Inference time and peak memory of the track transformer: 5,000 tracks x 80 frames on CPU.

    python benchmarks/motion_speed.py [--tracks 5000] [--frames 80] [--valid 0.55] [--chunk 256] [--threads 2]
    python benchmarks/motion_speed.py --davis ../shared/data/davis2016 --sequence mallard-fly [--window 24]
    python benchmarks/motion_speed.py --davis ../shared/data/davis2016 --sequence rhino --pipeline

Random cues of the real shapes (the model's cost does not depend on the values,
only on which points are valid); the shipped weights. Each track is valid on one
random span of frames, ``--valid`` of them on average (0.55 is the mean over the
DAVIS dev sequences' 10,000-track runs; 0.83 on rhino, 0.27 on mallard-fly).
With ``--davis``, the real cues of one sequence's default 10,000 tracks. ``--pipeline`` times the
scoring that `movseg segment` runs (``MethodConfig.motion_windows`` with its lift, the whole video
only for the tracks the lift can carry over the weights' threshold); how many tracks that is depends
on their P, so it means something with ``--davis`` only.
Prints seconds per call (median of --repeat) and peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from movseg.method import MethodConfig
from movseg.motion import TrackCues, load_model, predict_dynamic, predict_dynamic_max
from movseg.objects import resolve_threshold


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=5000)
    ap.add_argument("--frames", type=int, default=80)
    ap.add_argument("--valid", type=float, default=0.55, help="mean share of valid frames per track")
    ap.add_argument("--chunk", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--window", type=int, default=0,
                    help="score in windows of this many frames (0: the whole video at once)")
    ap.add_argument("--pipeline", action="store_true", help="time the pipeline's scoring instead (see above)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--davis", help="DAVIS root: time the real cues of --sequence instead of random ones")
    ap.add_argument("--sequence", default="rhino")
    ap.add_argument("--cache", default="out/stages", help="stage outputs cached by davis_masks.py")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cues = davis_cues(args) if args.davis else random_cues(args.tracks, args.frames, args.valid)
    (n, t), valid = cues.valid.shape, cues.valid
    model = load_model()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cfg = MethodConfig()
    if args.pipeline:
        score = partial(predict_dynamic_max, model, cues, cfg.motion_windows, chunk=args.chunk, lift=cfg.motion_lift,
                        threshold=resolve_threshold(cfg.group.threshold, model.threshold))
    else:
        score = partial(predict_dynamic, model, cues, chunk=args.chunk, window=args.window or None)
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        score()
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    what = "the pipeline's scoring" if args.pipeline else f"window {args.window or None}"
    print(f"{n} tracks x {t} frames ({valid.mean():.0%} valid), chunk {args.chunk}, {what}, "
          f"{args.threads} threads: "
          f"{np.median(times):.2f} s per call ({1000 * np.median(times) / t:.0f} ms/frame), "
          f"peak RSS {peak:.0f} MB (before inference {base:.0f} MB)")


def random_cues(n: int, t: int, share: float) -> TrackCues:
    """Random cues; each track valid on one random span of frames, ``share`` of them on average."""
    rng = np.random.default_rng(0)
    length = np.clip(np.round(rng.uniform(0, 2 * share, n) * t), 1, t).astype(int)  # mean ≈ share · t
    start = (rng.random(n) * (t - length + 1)).astype(int)
    frame = np.arange(t)
    valid = (frame >= start[:, None]) & (frame < (start + length)[:, None])
    return TrackCues(rng.normal(size=(n, t, 9)).astype(np.float32), valid, rng.normal(size=(n, 7)).astype(np.float32))


def davis_cues(args) -> TrackCues:
    """The cues of a DAVIS sequence's default tracks (cached by davis_masks.py, tracked if missing)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from davis_masks import stage_outputs

    from movseg.motion import track_cues

    video, tracks, _, _ = stage_outputs(Path(args.davis), args.sequence, Path(args.cache))
    return track_cues(video, tracks)


if __name__ == "__main__":
    main()
