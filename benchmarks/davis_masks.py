"""Develop the masks stage on DAVIS dev: cache tracks, P(dynamic) and object ids per sequence once,
then score segmenter settings (MOS J, F, J&F) without re-tracking.

    python benchmarks/davis_masks.py --root ../shared/data/davis2016 --cache out/stages \
        --set lam=500,sigma_color=15 --set lam=200,sigma_color=8
    python benchmarks/davis_masks.py --root ../shared/data/davis2016 --grid-size 10 --max-tracks 5000 --oracle

Only for development on the dev sequences; the reported figures come from `movseg bench davis`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from movseg.eval.metrics import boundary_f, jaccard
from movseg.io.masks import read_mask
from movseg.io.video import read_video
from movseg.masks import build_segmenter
from movseg.method import MethodConfig, prompt_objects, segment_moving_objects
from movseg.objects import GroupConfig
from movseg.types import Tracks


def stage_outputs(root: Path, seq: str, cache: Path, cfg: MethodConfig | None = None):
    cfg = cfg or MethodConfig()
    path = cache / f"{seq}-grid{cfg.grid_size}-{cfg.max_tracks}.npz"  # keyed on the defaults that shape the tracks
    video = read_video(root / "JPEGImages" / "480p" / seq)
    if not path.exists():
        out = segment_moving_objects(video, cfg)
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(path, **out.tracks.to_npz_dict(), dynamic_prob=out.dynamic_prob, object_id=out.object_id)
    z = np.load(path)
    tracks = Tracks(z["xy"], z["visible"], z["confidence"], z["query_frame"])
    return video, tracks, z["dynamic_prob"], z["object_id"]


def parse(text: str) -> dict:
    out = {}
    for kv in filter(None, text.split(",")):
        k, v = kv.split("=")
        out[k] = type_of(v)
    return out


def type_of(v: str):
    try:
        return int(v)
    except ValueError:
        return float(v)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--cache", default="out/stages")
    ap.add_argument("--set", action="append", help="segmenter settings k=v,k=v (repeatable)")
    ap.add_argument("--oracle", action="store_true", help="label tracks by the ground truth at their query point "
                    "(one object): the ceiling of the masks stage")
    ap.add_argument("--sequences", help="comma-separated subset")
    ap.add_argument("--grid-size", type=int, default=MethodConfig.grid_size, help="query grid (default: %(default)s)")
    ap.add_argument("--max-tracks", type=int, default=MethodConfig.max_tracks, help="track budget (default: %(default)s)")
    ap.add_argument("--threshold", type=float, help="regroup the tracks with this P(dynamic) threshold")
    ap.add_argument("--negative", type=float, help="tracks below this P(dynamic) prompt as background "
                    "(default: the grouping threshold)")
    args = ap.parse_args()
    root = Path(args.root)
    seqs = args.sequences.split(",") if args.sequences else (root / "sequences.txt").read_text().split()
    method = MethodConfig(grid_size=args.grid_size, max_tracks=args.max_tracks)
    data = {s: stage_outputs(root, s, Path(args.cache), method) for s in seqs}
    if args.oracle:
        from movseg.train.data import davis_labels

        for s, (video, tracks, prob, obj) in data.items():
            q = np.stack([tracks.query_frame, *tracks.xy[np.arange(len(prob)), tracks.query_frame].T], 1)
            lab, _ = davis_labels(root / "Annotations" / "480p" / s, video.names, q)
            data[s] = (video, tracks, lab.astype(np.float32), lab.astype(np.int32))
    elif args.threshold is not None:
        from movseg.objects import group_tracks

        for s, (video, tracks, prob, obj) in data.items():
            obj = group_tracks(tracks, prob, (video.height, video.width), GroupConfig(threshold=args.threshold))
            data[s] = (video, tracks, prob, obj)
    for setting in args.set or [""]:
        cfg = parse(setting)
        seg = build_segmenter("tracks", **cfg)
        js, fs, t0 = [], [], time.perf_counter()
        for s, (video, tracks, prob, obj) in data.items():
            state = seg.init_state(video)
            prompt_objects(seg, state, tracks, obj, prob, args.negative or args.threshold or GroupConfig().threshold)
            pred = np.zeros((video.num_frames, video.height, video.width), bool)
            for f, ids, masks in seg.propagate(state):
                if len(ids):
                    pred[f] = masks.any(0)
            gt = np.stack([read_mask(root / "Annotations" / "480p" / s / f"{n}.png") > 0 for n in video.names])
            js.append(np.mean(jaccard(gt, pred)))
            fs.append(np.mean(boundary_f(gt, pred)))
        J, F = 100 * np.mean(js), 100 * np.mean(fs)
        print(f"{setting or 'default':<40} J {J:5.1f} F {F:5.1f} J&F {(J + F) / 2:5.1f}  ({time.perf_counter() - t0:.0f} s)",
              flush=True)


if __name__ == "__main__":
    main()
