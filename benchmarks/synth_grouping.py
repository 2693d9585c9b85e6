"""Develop the objects stage on rendered scenes: cache tracks and P(dynamic) per scene once, then score
grouping settings (MOS J&F over the scenes with a moving object, and per-object "fine" J&F).

    movseg synth /tmp/synth_val --preset train --seed 1 --scenes 30     # the transformer's validation seed
    python benchmarks/synth_grouping.py --root /tmp/synth_val --cache out/grouping \
        --group "" --group motion_tol=0.2 --group threshold=0.6,max_apart=0.2
    python benchmarks/synth_grouping.py --root /tmp/synth_val --fix moving     # or --fix static, --oracle

Each ``--group`` is one :class:`movseg.objects.GroupConfig` (``""``: the default). Masks come from the
default segmenter, prompted as in ``movseg segment``. Scenes without a moving object are left out of
the MOS mean (there, any method that finds nothing scores 1), so it is lower than `movseg bench
synth`'s. Development only: report figures from `movseg bench synth` on scenes you did not tune on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from movseg.eval.metrics import statistics
from movseg.eval.protocols import evaluate_fine, evaluate_mos
from movseg.io.masks import read_mask_folder
from movseg.io.video import read_video
from movseg.masks import build_segmenter
from movseg.method import MethodConfig, _renumber, prompt_objects, segment_moving_objects, stray_points
from movseg.motion.cues import track_cues
from movseg.objects import FragmentConfig, GroupConfig, group_tracks, join_fragments, resolve_threshold
from movseg.types import Tracks

sys.path.insert(0, str(Path(__file__).parent))
from davis_masks import floats_arg, parse, shipped_threshold  # noqa: E402  (k=v,k=v settings, as there)


def stage_outputs(scene: Path, cache: Path, tracker_options: dict | None = None):
    """``(video, tracks, P(dynamic))`` of one scene, from ``cache`` when there (made with these tracker settings)."""
    path = cache / f"{scene.name}.npz"
    video = read_video(scene / "frames")
    if not path.exists():
        out = segment_moving_objects(video, MethodConfig(tracker_options=tracker_options))
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(path, **out.tracks.to_npz_dict(), dynamic_prob=out.dynamic_prob)
    z = np.load(path)
    return video, Tracks(z["xy"], z["visible"], z["confidence"], z["query_frame"]), z["dynamic_prob"]


def oracle_prob(tracks: Tracks, gt: np.ndarray) -> np.ndarray:
    """``float32 (N,)``: 1 where a track's query point lies on a ground-truth object mask ``gt (T, H, W)``."""
    t = tracks.query_frame
    xy = tracks.xy[np.arange(len(t)), t]  # (N, 2) the query points
    x = np.clip(np.round(xy[:, 0]).astype(int), 0, gt.shape[2] - 1)
    y = np.clip(np.round(xy[:, 1]).astype(int), 0, gt.shape[1] - 1)
    return (gt[t, y, x] > 0).astype(np.float32)


def labels_for(video, tracks: Tracks, prob: np.ndarray, object_id: np.ndarray, threshold: float,
               fragments: FragmentConfig | None = None, stray: tuple[float, float] | None = None, cues=None,
               **segmenter) -> np.ndarray:
    """``uint8 (T, H, W)`` object labels from the default segmenter (with ``segmenter`` settings),
    numbered as `movseg segment` does; with ``fragments``, touching fragments merged as with `--merge-fragments`;
    ``stray``: the stray-point rule's ``(moving, still)`` residuals (default: the pipeline's), read from ``cues``
    (the tracks' cues; computed when not given)."""
    labels = np.zeros((video.num_frames, video.height, video.width), np.uint8)
    if object_id.max(initial=0):
        moving, still = stray or (MethodConfig.moving_threshold, MethodConfig.stray_still)
        seg = build_segmenter("tracks", **segmenter)
        state = seg.init_state(video)
        if still > 0 and cues is None:
            cues = track_cues(video, tracks)
        off = stray_points(cues, object_id, moving, still) if still > 0 else None
        prompt_objects(seg, state, tracks, object_id, prob, threshold, stray=off)
        for f, ids, masks in seg.propagate(state):
            for k, m in zip(ids, masks):
                labels[f][m] = k
    if fragments is not None:
        labels, object_id = join_fragments(labels, object_id, fragments)
    return _renumber(labels, object_id)[0]


def mean_jf(objects) -> list[float]:
    """J&F per object (mean over frames) of an evaluation's objects."""
    return [(statistics(o.J)["mean"] + statistics(o.F)["mean"]) / 2 for o in objects]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True, help="folder of rendered scenes (`movseg synth`)")
    ap.add_argument("--cache", default="out/grouping", help="tracks and P(dynamic) per scene")
    ap.add_argument("--group", action="append", help="GroupConfig settings k=v,k=v (repeatable; \"\" = default)")
    ap.add_argument("--set", default="", help="segmenter settings k=v,k=v for every --group (as davis_masks.py)")
    ap.add_argument("--oracle", action="store_true",
                    help="replace P(dynamic) by the ground truth at each track's query point (1 on a moving object's "
                         "mask, else 0): the ceiling of the grouping and masks stages with a perfect motion model")
    ap.add_argument("--fix", choices=("static", "moving"),
                    help="the ground truth for one kind of track only (by its query point): 'static' sets P to 0 off "
                         "the moving objects, 'moving' to 1 on them; the other tracks keep the transformer's P")
    ap.add_argument("--stray", action="append", type=floats_arg,
                    help="MOVING,STILL: the stray-point rule's residuals (repeatable; 0,0 off; default: the pipeline's)")
    ap.add_argument("--tracker-options", type=json.loads, help="the flow tracker's settings as JSON ('{}': its own "
                    "defaults, with long links; default: the pipeline's); give such runs their own --cache")
    args = ap.parse_args()
    root = Path(args.root)
    scenes = sorted(d for d in root.iterdir() if (d / "frames").is_dir())
    cache = Path(args.cache) / root.name
    data = []
    for s in scenes:
        _, gt = read_mask_folder(s / "masks")
        if gt.any():
            video, tracks, prob = stage_outputs(s, cache, args.tracker_options)
            truth = oracle_prob(tracks, gt)
            if args.oracle:
                prob = truth
            elif args.fix == "static":
                prob = np.where(truth > 0, prob, 0).astype(np.float32)
            elif args.fix == "moving":
                prob = np.where(truth > 0, 1, prob).astype(np.float32)
            data.append(((video, tracks, prob, track_cues(video, tracks)), gt))
    print(f"{len(data)} of {len(scenes)} scenes have a moving object")
    for setting, stray in [(g, s) for s in args.stray or [None] for g in args.group or [""]]:
        cfg = replace(GroupConfig(), **parse(setting))
        cfg = replace(cfg, threshold=resolve_threshold(cfg.threshold, shipped_threshold()))  # the cache's P: shipped weights
        mos, fine, t0 = [], [], time.perf_counter()
        for (video, tracks, prob, cues), gt in data:
            object_id = group_tracks(tracks, prob, (video.height, video.width), cfg)
            pred = labels_for(video, tracks, prob, object_id, cfg.threshold, stray=stray, cues=cues,
                              **parse(args.set))
            mos += mean_jf(evaluate_mos(gt, pred))
            fine += mean_jf(evaluate_fine(gt, pred))
        name = (setting or "default") + ("" if stray is None else " stray %g,%g" % stray)
        print(f"{name:<40} MOS J&F {100 * np.mean(mos):5.1f}  fine J&F {100 * np.mean(fine):5.1f} "
              f"({len(fine)} objects, {time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
