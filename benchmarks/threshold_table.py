"""Tabulate, per video, what every grouping threshold gives: J&F on each DAVIS dev sequence and frames
with a false object on each camera-only scene, with the P(dynamic) of every track kept beside them.
A rule that picks a threshold per video from its own P can then be scored without re-running anything.

    python benchmarks/threshold_table.py --weights default --davis ../shared/data/davis2016 \
        --static /tmp/synth_static_val48 --out out/thresholds-shipped.npz
    python benchmarks/threshold_table.py --read out/thresholds-fold2.npz \
        --held-out bmx-bumps,dog-agility,hockey,mallard-fly,surf

``--read`` scores a cross-validation fold from a table: the threshold chosen by mean J&F on the
sequences the weights trained on (the others), and the held-out sequences at it and at
``--threshold auto`` (:func:`movseg.objects.video_threshold`, falling back on the chosen one).

Development only (the stage outputs come from ``davis_masks.py``'s cache; camera-only scenes are
tracked here). Report figures from `movseg bench`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from movseg.eval.evaluate import list_sequences
from movseg.eval.protocols import evaluate_fine, evaluate_mos
from movseg.io.masks import read_mask_folder
from movseg.method import MethodConfig
from movseg.motion import load_model, predict_dynamic_lifted, track_cues
from movseg.objects import GroupConfig, group_tracks, video_threshold

sys.path.insert(0, str(Path(__file__).parent))
from choose_threshold import false_frames_per_scene  # noqa: E402
from davis_masks import score_sequence, stage_outputs  # noqa: E402
from synth_grouping import labels_for, mean_jf  # noqa: E402
from synth_grouping import stage_outputs as scene_outputs  # noqa: E402

CANDIDATES = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="default", help="track-transformer weights ('default': the shipped ones)")
    ap.add_argument("--davis", help="DAVIS-2016 root")
    ap.add_argument("--sequences", help="comma-separated subset of the DAVIS sequences")
    ap.add_argument("--stages", default="out/stages", help="stage-output cache of davis_masks.py")
    ap.add_argument("--static", action="append", default=[], help="folder of camera-only scenes (repeatable)")
    ap.add_argument("--synth", action="append", default=[], help="folder of rendered scenes with moving objects: "
                    "MOS and per-object J&F per candidate (repeatable)")
    ap.add_argument("--synth-cache", default="out/grouping", help="tracks per scene, as synth_grouping.py caches them")
    ap.add_argument("--out", help=".npz to write")
    ap.add_argument("--read", help="a table this script wrote: score a cross-validation fold from it")
    ap.add_argument("--held-out", help="with --read: the fold's held-out sequences, comma-separated")
    args = ap.parse_args()
    if args.read:
        return score_fold(np.load(args.read), args.held_out.split(",") if args.held_out else [])
    if not args.out:
        ap.error("--out is required unless --read is given")
    model = load_model(None if args.weights == "default" else args.weights)
    cfg = MethodConfig()
    table: dict[str, np.ndarray] = {"candidates": np.array(CANDIDATES)}
    t0 = time.perf_counter()
    if args.davis:
        root = Path(args.davis)
        seqs = args.sequences.split(",") if args.sequences else list_sequences(root / "Annotations" / "480p")
        for s in seqs:
            video, tracks, _, _ = stage_outputs(root, s, Path(args.stages))
            cues = track_cues(video, tracks)
            prob, core = predict_dynamic_lifted(model, cues, cfg.motion_windows, lift=cfg.motion_lift)
            jf = np.array([score_sequence(root, s, video, tracks, prob, c, core, cues) for c in CANDIDATES])
            table.update({f"davis/{s}/prob": prob, f"davis/{s}/core": core, f"davis/{s}/jf": jf})
            print(f"{s:<20} " + " ".join(f"{100 * v:5.1f}" for v in jf) + f"  ({time.perf_counter() - t0:.0f} s)",
                  flush=True)
    for folder in map(Path, args.static):
        for scene in sorted(d for d in folder.iterdir() if (d / "frames").is_dir()):
            prob, core, count = false_frames_per_scene(model, scene, CANDIDATES)
            key = f"static/{folder.name}/{scene.name}"
            table.update({f"{key}/prob": prob, f"{key}/core": core, f"{key}/false": count,
                          f"{key}/frames": np.array(len(list((scene / 'frames').iterdir())))})
            print(f"{key:<40} " + " ".join(f"{v:3d}" for v in count), flush=True)
    for folder in map(Path, args.synth):
        for scene in sorted(d for d in folder.iterdir() if (d / "frames").is_dir()):
            _, gt = read_mask_folder(scene / "masks")
            if not gt.any():
                continue
            video, tracks, _ = scene_outputs(scene, Path(args.synth_cache) / folder.name)
            cues = track_cues(video, tracks)
            prob, core = predict_dynamic_lifted(model, cues, cfg.motion_windows, lift=cfg.motion_lift)
            mos, fine = [], []
            for c in CANDIDATES:
                obj = group_tracks(tracks, prob, (video.height, video.width), GroupConfig(threshold=c), core)
                pred = labels_for(video, tracks, prob, obj, c, cues=cues)
                mos.append(mean_jf(evaluate_mos(gt, pred)))
                fine.append(mean_jf(evaluate_fine(gt, pred)))
            key = f"synth/{folder.name}/{scene.name}"
            table.update({f"{key}/prob": prob, f"{key}/core": core, f"{key}/mos": np.array(mos),
                          f"{key}/fine": np.array(fine)})
            print(f"{key:<40} MOS " + " ".join(f"{100 * np.mean(v):5.1f}" for v in mos), flush=True)
    np.savez_compressed(args.out, **table)
    print(f"wrote {args.out} ({time.perf_counter() - t0:.0f} s)")


def score_fold(table, held_out: list[str]) -> None:
    """Print the threshold chosen on the trained-on sequences of ``table`` and the held-out J&F at it and
    at the per-video threshold, per sequence and on average; camera-only scenes' false frames likewise."""
    cands = [round(float(c), 2) for c in table["candidates"]]
    seqs = sorted(k.split("/")[1] for k in table if k.startswith("davis/") and k.endswith("/jf"))
    trained = [s for s in seqs if s not in held_out]
    chosen = cands[int(np.argmax(np.mean([table[f"davis/{s}/jf"] for s in trained], axis=0)))]
    print(f"chosen on {len(trained)} trained-on sequences: {chosen}")
    rows = {"chosen": [], "auto": []}
    for s in held_out:
        jf = table[f"davis/{s}/jf"]
        auto = video_threshold(table[f"davis/{s}/prob"], chosen)
        rows["chosen"].append(jf[cands.index(chosen)])
        rows["auto"].append(jf[cands.index(round(auto, 2))])
        print(f"  {s:<20} at {chosen}: {100 * rows['chosen'][-1]:5.1f}   auto ({auto}): {100 * rows['auto'][-1]:5.1f}")
    if held_out:
        print(f"held-out mean at {chosen}: {100 * np.mean(rows['chosen']):.1f}   auto: {100 * np.mean(rows['auto']):.1f}")
    for folder in sorted({k.split("/")[1] for k in table if k.startswith("static/")}):
        keys = sorted({k.rsplit("/", 1)[0] for k in table if k.startswith(f"static/{folder}/")})
        fixed = sum(int(table[f"{k}/false"][cands.index(chosen)]) for k in keys)
        auto = sum(int(table[f"{k}/false"][cands.index(round(video_threshold(table[f"{k}/prob"], chosen), 2))])
                   for k in keys)
        frames = sum(int(table[f"{k}/frames"]) for k in keys)
        print(f"camera-only {folder}: frames with a false object at {chosen}: {fixed}, auto: {auto} (of {frames})")


if __name__ == "__main__":
    main()
