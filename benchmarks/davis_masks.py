"""Develop the masks stage on DAVIS dev: cache tracks, P(dynamic) and object ids per sequence once,
then score segmenter settings (MOS J, F, J&F) without re-tracking.

    python benchmarks/davis_masks.py --root ../shared/data/davis2016 --cache out/stages \
        --set lam=500,sigma_color=15 --set lam=200,sigma_color=8
    python benchmarks/davis_masks.py --root ../shared/data/davis2016 --grid-size 10 --max-tracks 5000 --oracle
    python benchmarks/davis_masks.py --root ../shared/data/davis2016 --fix bg-near --per-sequence
    python benchmarks/davis_masks.py --root ../shared/data/davis2016 --group motion_tol=0.2 --per-sequence
    python benchmarks/davis_masks.py --root ../shared/data/davis2016 --weights runs/motion/best.safetensors
    python benchmarks/davis_masks.py --root ../shared/data/davis2016 --weights default --window 24 --group threshold=0.5
    python benchmarks/davis_masks.py --root ../shared/data/davis2016 --weights default --window 0,24   # the larger P
    python benchmarks/davis_masks.py --root ../shared/data/davis2016 --weights default --window 0,24 --lift 1.2

``--fix CLASS`` gives one class of tracks (by where the query point lies relative to the
ground-truth mask, see ``ERROR_CLASSES``) its ground-truth label and keeps the transformer's
for the others: how many J&F points each kind of labelling error costs.

Only for development on the dev sequences; the reported figures come from `movseg bench davis`.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from movseg.eval.metrics import boundary_f, jaccard
from movseg.io.masks import read_mask
from movseg.io.video import read_video
from movseg.masks import build_segmenter
from movseg.method import MethodConfig, prompt_objects, segment_moving_objects, stray_points, tracker_options
from movseg.motion.cues import track_cues
from movseg.objects import GroupConfig, group_tracks, resolve_threshold
from movseg.types import Tracks


def stage_path(seq: str, cache: Path, cfg: MethodConfig) -> Path:
    """The cache file of one sequence's stage outputs, keyed on the defaults that shape the tracks, their
    P(dynamic) and the objects."""
    scoring = "-".join(str(w or 0) for w in cfg.motion_windows) + f"-lift{cfg.motion_lift}"
    options = tracker_options(cfg.tracker, cfg.tracker_options)
    tracker = cfg.tracker + "".join(f"-{k}{v}" for k, v in sorted(options.items()))
    return cache / f"{seq}-{tracker}-grid{cfg.grid_size}-{cfg.max_tracks}-w{scoring}-core{cfg.group.min_core}.npz"


def stage_outputs(root: Path, seq: str, cache: Path, cfg: MethodConfig | None = None):
    """``(video, tracks, P(dynamic), object ids)`` of ``seq`` as `movseg segment` makes them (cached; the
    cache also holds ``core_prob``, P before the whole video's lift)."""
    cfg = cfg or MethodConfig()
    path = stage_path(seq, cache, cfg)
    video = read_video(root / "JPEGImages" / "480p" / seq)
    if not path.exists():
        out = segment_moving_objects(video, cfg)
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(path, **out.tracks.to_npz_dict(), dynamic_prob=out.dynamic_prob, object_id=out.object_id,
                 core_prob=out.core_prob)
    z = np.load(path)
    tracks = Tracks(z["xy"], z["visible"], z["confidence"], z["query_frame"])
    return video, tracks, z["dynamic_prob"], z["object_id"]


def mos_j_f(root: Path, seq: str, video, tracks: Tracks, prob: np.ndarray, obj: np.ndarray, seg,
            negative: float, stray: np.ndarray | None = None) -> tuple[float, float]:
    """MOS J and F (means over frames) of one sequence: every object of ``obj`` prompted as
    `movseg segment` does (tracks below ``negative`` are background, ``stray`` points background of their
    object) and the masks merged."""
    state = seg.init_state(video)
    prompt_objects(seg, state, tracks, obj, prob, negative, stray=stray)
    pred = np.zeros((video.num_frames, video.height, video.width), bool)
    for f, ids, masks in seg.propagate(state):
        if len(ids):
            pred[f] = masks.any(0)
    gt = np.stack([read_mask(root / "Annotations" / "480p" / seq / f"{n}.png") > 0 for n in video.names])
    return float(np.mean(jaccard(gt, pred))), float(np.mean(boundary_f(gt, pred)))


def score_sequence(root: Path, seq: str, video, tracks: Tracks, prob: np.ndarray, threshold: float | None = None,
                   core: np.ndarray | None = None, cues=None) -> float:
    """MOS J&F of one sequence with the default grouping (at ``threshold``, default
    :data:`~movseg.objects.DEFAULT_THRESHOLD`) and segmenter, from P(dynamic) ``prob`` (and ``core``, its
    P before the whole video's lift, for the grouping's ``min_core`` rule); ``cues``: the tracks' cues, for
    the stray points (computed when not given)."""
    group = GroupConfig(threshold=resolve_threshold(threshold))
    obj = group_tracks(tracks, prob, (video.height, video.width), group, core)
    cues = cues if cues is not None else track_cues(video, tracks)  # callers that score several thresholds pass theirs
    stray = stray_points(cues, obj, MethodConfig.moving_threshold, MethodConfig.stray_still)
    j, f = mos_j_f(root, seq, video, tracks, prob, obj, build_segmenter("tracks"), group.threshold, stray)
    return (j + f) / 2


# class → (on the ground-truth foreground?, lowest distance (exclusive), highest distance (inclusive)),
# distance in px from the query point to the mask boundary, on the point's side of it
ERROR_CLASSES = {
    "bg-near": (False, 3, 15),  # background just outside the object (shadows, spray, dragged points)
    "bg-mid": (False, 15, 50),
    "bg-far": (False, 50, np.inf),  # other motion: parallax, other people, reflections
    "fg-edge": (True, 0, 10),  # the object's rim and thin parts
    "fg-deep": (True, 10, np.inf),  # whole parts of the object
}


def query_truth(root: Path, seq: str, names: list[str], tracks: Tracks) -> tuple[np.ndarray, np.ndarray]:
    """``fg bool (N,)``: the query point is on the ground-truth mask; ``dist float (N,)``: its distance
    to the mask boundary (px, on its own side)."""
    from movseg.train.data import query_mask_distance

    q = np.stack([tracks.query_frame, *tracks.xy[np.arange(len(tracks.query_frame)), tracks.query_frame].T], 1)
    fg, dist, _ = query_mask_distance(root / "Annotations" / "480p" / seq, names, q)
    return fg, dist


def in_class(fg: np.ndarray, dist: np.ndarray, name: str) -> np.ndarray:
    """``bool (N,)``: the tracks of error class ``name``."""
    on_fg, lo, hi = ERROR_CLASSES[name]
    return (fg == on_fg) & (dist > lo) & (dist <= hi)


def fix_labels(prob: np.ndarray, obj: np.ndarray, fg: np.ndarray, dist: np.ndarray, classes: list[str]):
    """Ground-truth labels for the tracks of ``classes``: foreground joins the largest object
    (object 1 when there is none), background becomes static."""
    sel = np.zeros(len(prob), bool)
    for c in classes:
        sel |= in_class(fg, dist, c)
    main = int(np.bincount(obj[obj > 0]).argmax()) if (obj > 0).any() else 1
    prob, obj = prob.copy(), obj.copy()
    prob[sel] = fg[sel]
    obj[sel] = np.where(fg[sel], main, 0)
    return prob, obj


def print_classes(root: Path, data: dict) -> None:
    """Per error class: tracks, how many are labelled wrongly (in an object on the background, in
    none on the foreground), and the median number of frames the wrong and the right ones are valid
    (visible with confidence >= 0.1, what the transformer reads)."""
    from movseg.motion.cues import CueConfig

    rows = {c: [[], []] for c in ERROR_CLASSES}  # class -> [valid frames of wrong, of right]
    for s, (video, tracks, prob, obj) in data.items():
        fg, dist = query_truth(root, s, video.names, tracks)
        frames = (tracks.visible & (tracks.confidence >= CueConfig.min_confidence)).sum(1)
        for c, (on_fg, _, _) in ERROR_CLASSES.items():
            sel = in_class(fg, dist, c)
            wrong = (obj == 0) if on_fg else (obj > 0)
            rows[c][0].append(frames[sel & wrong])
            rows[c][1].append(frames[sel & ~wrong])
    print(f"{'class':<8} {'tracks':>7} {'wrong':>6} {'valid frames, wrong':>20} {'right':>6}")
    for c, (wrong, right) in rows.items():
        wrong, right = np.concatenate(wrong), np.concatenate(right)
        print(f"{c:<8} {len(wrong) + len(right):7d} {len(wrong):6d} {np.median(wrong) if len(wrong) else 0:20.0f} "
              f"{np.median(right) if len(right) else 0:6.0f}")


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
    ap.add_argument("--fix", action="append", choices=sorted(ERROR_CLASSES),
                    help="give this class of tracks its ground-truth label (repeatable)")
    ap.add_argument("--classes", action="store_true", help="print, per error class, how many tracks the "
                    "transformer labels wrongly and how long they are valid, then exit")
    ap.add_argument("--per-sequence", action="store_true", help="print J&F per sequence")
    ap.add_argument("--sequences", help="comma-separated subset")
    ap.add_argument("--grid-size", type=int, default=MethodConfig.grid_size, help="query grid (default: %(default)s)")
    ap.add_argument("--max-tracks", type=int, default=MethodConfig.max_tracks, help="track budget (default: %(default)s)")
    ap.add_argument("--group", help="regroup the tracks with these GroupConfig settings k=v,k=v "
                    "(e.g. threshold=0.6,motion_tol=0.2)")
    ap.add_argument("--weights", help="P(dynamic) from these track-transformer weights ('default': the shipped "
                    "ones; cues recomputed from the cached tracks), objects regrouped")
    ap.add_argument("--window", type=windows_arg, default=MethodConfig.motion_windows,
                    help="with --weights: score tracks in windows of this many frames (0 = the whole video at once); "
                    "several, comma-separated, keep each track's highest P (default: the pipeline's, 0)")
    ap.add_argument("--lift", type=float, default=MethodConfig.motion_lift,
                    help="with windows and the whole video (0,24): the most the whole video may raise a track's "
                    "windowed logit (default: no limit, the larger P)")
    ap.add_argument("--negative", type=float, help="tracks below this P(dynamic) prompt as background "
                    "(default: the grouping threshold)")
    ap.add_argument("--stray", action="append", type=floats_arg,
                    help="MOVING,STILL: the stray-point rule's residuals (repeatable; 0,0 off; default: the "
                         "pipeline's, %s,%s)" % (MethodConfig.moving_threshold, MethodConfig.stray_still))
    ap.add_argument("--tracker-options", type=json.loads, help="the flow tracker's settings as JSON, e.g. '{}' for "
                    "its own defaults with long links (default: the pipeline's); give such runs their own --cache")
    args = ap.parse_args()
    group = GroupConfig(**parse(args.group or ""))
    model = None
    if args.weights:
        from movseg.motion import load_model

        model = load_model(None if args.weights == "default" else args.weights)
    # the cached P(dynamic) came from the shipped weights: theirs is the threshold when none is given
    group = replace(group, threshold=resolve_threshold(group.threshold, model.threshold if model else shipped_threshold()))
    root = Path(args.root)
    seqs = args.sequences.split(",") if args.sequences else (root / "sequences.txt").read_text().split()
    method = MethodConfig(grid_size=args.grid_size, max_tracks=args.max_tracks, tracker_options=args.tracker_options)
    data = {s: stage_outputs(root, s, Path(args.cache), method) for s in seqs}
    if args.classes:
        print_classes(root, data)
        return
    if args.oracle:
        from movseg.train.data import davis_labels

        for s, (video, tracks, prob, obj) in data.items():
            q = np.stack([tracks.query_frame, *tracks.xy[np.arange(len(prob)), tracks.query_frame].T], 1)
            lab, _ = davis_labels(root / "Annotations" / "480p" / s, video.names, q)
            data[s] = (video, tracks, lab.astype(np.float32), lab.astype(np.int32))
    elif args.fix:
        for s, (video, tracks, prob, obj) in data.items():
            fg, dist = query_truth(root, s, video.names, tracks)
            data[s] = (video, tracks, *fix_labels(prob, obj, fg, dist, args.fix))
    elif args.group is not None or args.weights:
        from movseg.motion import predict_dynamic_lifted

        for s, (video, tracks, prob, obj) in data.items():
            if model is not None:
                prob, core = predict_dynamic_lifted(model, track_cues(video, tracks), args.window, lift=args.lift,
                                                    threshold=group.threshold)
            else:
                core = np.load(stage_path(s, Path(args.cache), method))["core_prob"]
            obj = group_tracks(tracks, prob, (video.height, video.width), group, core)
            data[s] = (video, tracks, prob, obj)
    cues = {s: track_cues(video, tracks) for s, (video, tracks, _, _) in data.items()}
    runs = [(setting, stray) for stray in args.stray or [(MethodConfig.moving_threshold, MethodConfig.stray_still)]
            for setting in args.set or [""]]
    for setting, (moving, still) in runs:
        seg = build_segmenter("tracks", **parse(setting))
        js, fs, t0 = [], [], time.perf_counter()
        for s, (video, tracks, prob, obj) in data.items():
            stray = stray_points(cues[s], obj, moving, still)
            j, f = mos_j_f(root, s, video, tracks, prob, obj, seg, args.negative or group.threshold, stray)
            js.append(j)
            fs.append(f)
            if args.per_sequence:
                print(f"  {s:<20} J&F {50 * (j + f):5.1f}", flush=True)
        J, F = 100 * np.mean(js), 100 * np.mean(fs)
        name = (setting or "default") + ("" if args.stray is None else f" stray {moving},{still}")
        print(f"{name:<40} J {J:5.1f} F {F:5.1f} J&F {(J + F) / 2:5.1f}  ({time.perf_counter() - t0:.0f} s)",
              flush=True)


def floats_arg(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(","))


def windows_arg(text: str) -> tuple[int | None, ...]:
    """``"0,24"`` -> ``(None, 24)``: the scorings of :func:`movseg.motion.predict_dynamic_max`."""
    return tuple(int(w) or None for w in text.split(","))


def shipped_threshold() -> float | None:
    """The grouping threshold stored in the shipped weights (None when they have none)."""
    from movseg.motion import load_model

    return load_model().threshold


if __name__ == "__main__":
    main()
