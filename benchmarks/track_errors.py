"""Which errors our tracker makes on rendered scenes, sorted by what they do to the motion labels.

    movseg synth /tmp/synth_val --preset train --seed 1 --scenes 30 --workers 2
    python benchmarks/track_errors.py /tmp/synth_val [--scenes 30] [--set keep_ncc=0.95] [--model [WEIGHTS]]

Tracks the ground-truth queries with the pipeline's tracker settings (``--set KEY=VALUE`` changes
one, read as JSON) and compares them with the renderer's tracks. A track is *static* when its
object never moves in the clip (scenery and static look-alikes: label 0 for the track
transformer), *moving* otherwise. Per class it prints

* ``off``: the share of tracks with a point called visible that is at least ``--off`` px
  (default 8, at the scene's resolution) from the truth;
* for static tracks, split by cause: ``pushed``, the true point was covered by a moving object
  between its query frame and that point (the track slid along the occluder's edge, or rode it,
  instead of being declared hidden: it then moves like an object), and ``other`` (drift);
* ``short``: the share of tracks visible on fewer than half of the frames the truth shows;
* ``hidden``: the share of points called visible that the truth says are hidden;
* and the TAP-Vid AJ / δ_avg / OA of the same tracks.

A static track that moves like an object is what the track transformer is trained to call
moving (docs/motion.md, "With perfect tracks the goal is met"). ``--model`` (the shipped weights, or
the given ones) measures what each kind of error costs it: its track-level scores at 0.5 on our
tracks, then with one class of our tracks replaced by the renderer's exact ones (same queries; the
cues are computed once for ours and once for the exact tracks, and rows are swapped, so the camera
fits behind the geometric cues stay those of our tracks).
"""

import argparse
import json
from pathlib import Path

import numpy as np

from movseg.io import read_mask_folder, read_video
from movseg.method import tracker_options
from movseg.motion.cues import TrackCues, track_cues
from movseg.motion.predict import load_model, predict_dynamic
from movseg.tracking import build_tracker
from movseg.tracking.base import queries_from_tracks
from movseg.tracking.bench import scene_dirs
from movseg.tracking.metrics import tapvid_metrics
from movseg.train.trainer import classification_scores
from movseg.types import Tracks

# tracks replaced by the exact ones, by class: (label, off, pushed) -> bool (N,)
SWAPS = {
    "our tracks": lambda label, off, pushed: np.zeros_like(label),
    "pushed static tracks replaced": lambda label, off, pushed: ~label & pushed,
    "static tracks off replaced": lambda label, off, pushed: ~label & off,
    "all static tracks replaced": lambda label, off, pushed: ~label,
    "moving tracks off replaced": lambda label, off, pushed: label & off,
    "all moving tracks replaced": lambda label, off, pushed: label,
    "all tracks replaced": lambda label, off, pushed: np.ones_like(label),
}


def swapped(ours: TrackCues, exact: TrackCues, rows: np.ndarray) -> TrackCues:
    """``ours`` with the rows ``rows bool (N,)`` taken from ``exact``."""
    return TrackCues(np.where(rows[:, None, None], exact.points, ours.points), np.where(rows[:, None], exact.valid, ours.valid),
                     np.where(rows[:, None], exact.appearance, ours.appearance))


def scene_errors(xy, visible, gt_xy, gt_visible, moving, query_frame, instances,
                 off: float) -> tuple[dict, np.ndarray, np.ndarray]:
    """Counts for one scene, and the tracks that are ``off`` and ``pushed`` (``bool (N,)`` each).
    ``xy (N, T, 2)``, ``visible (N, T)``: ours; ``gt_*`` the renderer's; ``moving bool (N, T)``: the
    track's object moves at t; ``instances uint8 (T, H, W)``."""
    N, T = visible.shape
    label = moving.any(1)
    ids = np.zeros(256, bool)
    # an object id is a mover when some track on it moves; ids are read at the true points
    H, W = instances.shape[1:]
    gx = np.clip(np.round(gt_xy).astype(int), 0, [W - 1, H - 1])  # (N, T, 2)
    t_idx = np.broadcast_to(np.arange(T), (N, T))
    under = instances[t_idx, gx[..., 1], gx[..., 0]]  # (N, T) id at the true point
    ids[np.unique(under[moving & gt_visible])] = True
    ids[0] = False
    covered = ~gt_visible & ids[under]  # (N, T) the true point is hidden under a moving object
    err = np.linalg.norm(xy - gt_xy, axis=-1)
    bad = visible & (err >= off)
    # covered between the query frame and the bad point (either direction)
    t = np.arange(T)[None]
    qf = query_frame[:, None]
    fwd_cov = np.maximum.accumulate(covered & (t >= qf), axis=1)
    bwd_cov = np.maximum.accumulate((covered & (t <= qf))[:, ::-1], axis=1)[:, ::-1]
    pushed_pt = bad & np.where(t >= qf, fwd_cov, bwd_cov)
    off_track = bad.any(1)
    pushed = pushed_pt.any(1)
    counts = {
        "static": int((~label).sum()), "moving": int(label.sum()),
        "static_off": int((off_track & ~label).sum()), "static_pushed": int((pushed & ~label).sum()),
        "moving_off": int((off_track & label).sum()),
        "static_short": int(((visible.sum(1) < 0.5 * gt_visible.sum(1)) & ~label).sum()),
        "moving_short": int(((visible.sum(1) < 0.5 * gt_visible.sum(1)) & label).sum()),
        "visible": int(visible.sum()), "visible_hidden": int((visible & ~gt_visible).sum()),
        "gt_visible": int(gt_visible.sum()),
    }
    return counts, off_track, pushed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", help="folder of `movseg synth` scenes")
    ap.add_argument("--scenes", type=int, default=None, help="the first N scenes (default all)")
    ap.add_argument("--off", type=float, default=8.0, help="a point this many px from the truth is off")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a tracker setting on top of the pipeline's (repeatable; values read as JSON)")
    ap.add_argument("--model", nargs="?", const="", default=None, metavar="WEIGHTS",
                    help="also score the track transformer (default weights: the shipped ones) with each class of "
                         "our tracks replaced by exact ones")
    args = ap.parse_args()
    model = None if args.model is None else load_model(args.model or None)
    probs = {name: [] for name in SWAPS}
    labels = []
    options = {**tracker_options("flow"), **{k: json.loads(v) for k, v in (kv.split("=", 1) for kv in args.set)}}
    total, tapvid = {}, []
    for d in scene_dirs(Path(args.root), args.scenes):
        gt = np.load(d / "tracks.npz")
        video = read_video(d / "frames")
        qf = gt["query_frame"].astype(int)
        tr = build_tracker("flow", **options)(video, queries_from_tracks(gt["xy"], qf))
        _, inst = read_mask_folder(d / "instances")
        c, off, pushed = scene_errors(tr.xy, tr.visible, gt["xy"], gt["visible"], gt["moving"], qf, inst, args.off)
        total = {k: total.get(k, 0) + v for k, v in c.items()}
        tapvid.append(tapvid_metrics(gt["xy"], gt["visible"], tr.xy, tr.visible, qf, (video.height, video.width)))
        if model is not None:
            label = gt["moving"].any(1)
            ours = track_cues(video, tr)
            exact = track_cues(video, Tracks(gt["xy"], gt["visible"], gt["visible"].astype(np.float32), qf.astype(np.int32)))
            for name, rows in SWAPS.items():
                probs[name].append(predict_dynamic(model, swapped(ours, exact, rows(label, off, pushed))))
            labels.append(label)
    s, m = total["static"], total["moving"]
    print(f"tracker settings: {json.dumps(options, sort_keys=True)}; {len(tapvid)} scenes, off = {args.off:g} px")
    print(f"static tracks {s}: off {100 * total['static_off'] / s:.2f} % (pushed {100 * total['static_pushed'] / s:.2f} %, "
          f"other {100 * (total['static_off'] - total['static_pushed']) / s:.2f} %), short {100 * total['static_short'] / s:.2f} %")
    print(f"moving tracks {m}: off {100 * total['moving_off'] / m:.2f} %, short {100 * total['moving_short'] / m:.2f} %")
    print(f"points called visible: {total['visible'] / total['gt_visible']:.3f} of those the truth shows; "
          f"{100 * total['visible_hidden'] / total['visible']:.2f} % of them are hidden")
    mean = {k: float(np.mean([t[k] for t in tapvid])) for k in ("AJ", "delta_avg", "OA")}
    print(f"TAP-Vid AJ {100 * mean['AJ']:.1f}  delta_avg {100 * mean['delta_avg']:.1f}  OA {100 * mean['OA']:.1f}")
    if model is not None:
        label = np.concatenate(labels)
        print(f"track transformer at 0.5 ({args.model or 'shipped weights'}):")
        for name, p in probs.items():
            sc = classification_scores(np.concatenate(p), label, 0.5)
            print(f"  {name:<31} P {sc['precision']:.3f}  R {sc['recall']:.3f}  F1 {sc['f1']:.3f}  AUC {sc['auc']:.3f}")


if __name__ == "__main__":
    main()
