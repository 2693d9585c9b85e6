"""Cross-validate the track transformer on DAVIS dev: one model per fold, trained with that fold's
sequences held out, so that every sequence is scored by a model that never saw it.

    python benchmarks/motion_crossval.py --config configs/motion.json --davis ../shared/data/davis2016 \
        --steps 1500 --folds 4 --out runs/cv --json out/motion-crossval.json [--jf [--choose] [--candidates] [--window 0,24 [--lift 1.2]]]

Fold 0 is the shipped run's held-out five (``DAVIS_HOLDOUT``); the other sequences are dealt in
sorted order into the remaining folds. A fold whose ``best.safetensors`` exists is not retrained.
Track level uses the training cache's DAVIS samples (grid 10, 5,000 tracks; ground-truth label at
the query point, points within 3 px of the boundary left out), scored on the whole video at once as
``movseg segment`` does, and in windows of 24 frames as ``movseg bench motion`` does. ``--jf`` adds
the end-to-end J&F of each held-out sequence, from the stage outputs that ``davis_masks.py`` caches
(10,000 tracks), with the default segmenter and grouping at the fold's threshold: with ``--choose``
it is chosen on the fold's own trained-on sequences as ``choose_threshold.py`` does (J&F) and stored
in the fold's weights, the protocol the shipped weights follow.

Short runs (1,500 steps) measure how well the method generalises across sequences, not the shipped
weights (8,000 steps).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from movseg.eval.evaluate import list_sequences
from movseg.method import MethodConfig
from movseg.motion import TrackCues, load_model, predict_dynamic, predict_dynamic_lifted, track_cues
from movseg.objects import resolve_threshold
from movseg.train import data, load_config
from movseg.train.trainer import DAVIS_HOLDOUT, classification_scores, train

sys.path.insert(0, str(Path(__file__).parent))
from choose_threshold import CANDIDATES, choose, davis_scores, false_frames, write_threshold  # noqa: E402
from davis_masks import score_sequence, stage_outputs, windows_arg  # noqa: E402

MODES = {"whole": None, "w24": 24}  # scoring: the whole video at once (the pipeline), windows of 24


def folds_of(sequences: list[str], k: int) -> list[list[str]]:
    rest = sorted(s for s in sequences if s not in DAVIS_HOLDOUT)
    return [[s for s in DAVIS_HOLDOUT if s in sequences]] + [rest[i::k - 1] for i in range(k - 1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/motion.json")
    ap.add_argument("--davis", required=True, help="DAVIS-2016 root")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--out", default="runs/cv")
    ap.add_argument("--jf", action="store_true", help="also score each held-out sequence end to end (J&F)")
    ap.add_argument("--stages", default="out/stages", help="stage-output cache of davis_masks.py (with --jf)")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--choose", action="store_true", help="with --jf: choose each fold's grouping threshold on its "
                    "trained-on sequences as choose_threshold.py does, and store it in the fold's weights")
    ap.add_argument("--candidates", action="store_true", help="with --jf: also each held-out sequence's J&F at every "
                    "candidate threshold, and their means: a threshold chosen where no model saw the sequences")
    ap.add_argument("--static", help="with --choose: camera-only scenes; frames with an object are reported per fold")
    ap.add_argument("--window", type=windows_arg, default=MethodConfig.motion_windows,
                    help="with --jf: score tracks end to end as the pipeline would with these windows (0 = the whole "
                    "video; e.g. 0,24 keeps each track's higher P); with --choose, a threshold for other windows than "
                    "the default is chosen afresh and not stored")
    ap.add_argument("--lift", type=float, default=MethodConfig.motion_lift,
                    help="with --window 0,24: the most the whole video may raise a track's windowed logit "
                    "(default: no limit, the larger P)")
    args = ap.parse_args()
    root = Path(args.davis)
    seqs = list_sequences(root / "Annotations" / "480p")
    rows, pooled = {}, {m: ([], []) for m in MODES}
    for i, fold in enumerate(folds_of(seqs, args.folds)):
        cfg = load_config(args.config, out=f"{args.out}/fold{i}", steps=args.steps, davis_root=str(root),
                          davis_holdout=fold)
        weights = Path(cfg.out) / "best.safetensors"
        if not weights.exists():
            print(f"fold {i}: training without {', '.join(fold)}", flush=True)
            train(cfg, progress=False)
        model = load_model(weights)
        threshold = model.threshold
        default = args.window == MethodConfig.motion_windows and args.lift == MethodConfig.motion_lift
        if args.jf and args.choose and (threshold is None or not default):  # chosen on the fold's trained-on sequences
            trained_on = [s for s in seqs if s not in fold]
            jf = davis_scores(model, root, trained_on, Path(args.stages), CANDIDATES, args.window, args.lift)
            false, total = false_frames(model, Path(args.static), CANDIDATES, args.window, args.lift) if args.static else (None, 0)
            threshold = choose(jf)
            if default:
                write_threshold(weights, model, threshold, {"sequences": trained_on, "jf": jf, "false": false})
            table = "  ".join(f"{c}: {100 * jf[c]:.1f}" + (f" ({false[c]})" if false else "") for c in CANDIDATES)
            print(f"fold {i}: threshold {threshold} chosen on its {len(trained_on)} trained-on sequences; "
                  f"J&F{f' (camera-only frames with an object, of {total})' if false else ''} {table}", flush=True)
        for s, path in zip(fold, data.prepare_davis(cfg.cache, root, fold, cfg.workers, False,
                                                      options=cfg.tracker_options)):
            smp = data.load_sample(path)
            cues = TrackCues(smp["points"].astype(np.float32), smp["valid"], smp["appearance"].astype(np.float32))
            keep = ~smp["ignore"]
            row = {"fold": i, "threshold": threshold}
            for m, window in MODES.items():
                p, lab = predict_dynamic(model, cues, window=window)[keep], smp["label"][keep]
                a, b = classification_scores(p, lab, 0.5), classification_scores(p, lab, 0.7)
                row[m] = {"f1": a["f1"], "auc": a["auc"], "f1_at_0.7": b["f1"]}
                pooled[m][0].append(p)
                pooled[m][1].append(lab)
            if args.jf:
                video, tracks, _, _ = stage_outputs(root, s, Path(args.stages))
                vcues = track_cues(video, tracks)
                prob, core = predict_dynamic_lifted(model, vcues, args.window, lift=args.lift)
                if args.candidates:  # what each threshold would give on a sequence the model never saw
                    row["jf_at"] = {c: score_sequence(root, s, video, tracks, prob, c, core, vcues) for c in CANDIDATES}
                at = row.get("jf_at", {}).get(resolve_threshold(threshold))  # the fold's own, if scored already
                row["jf"] = at if at is not None else score_sequence(root, s, video, tracks, prob, threshold, core,
                                                                     vcues)
            rows[s] = row
            jf = f"  J&F {100 * row['jf']:5.1f}" if args.jf else ""
            print(f"  {s:<20} fold {i}  whole F1 {row['whole']['f1']:.3f} AUC {row['whole']['auc']:.3f}  "
                  f"windows F1 {row['w24']['f1']:.3f} AUC {row['w24']['auc']:.3f}{jf}", flush=True)
    summary = {}
    for m, (ps, ls) in pooled.items():
        p, lab = np.concatenate(ps), np.concatenate(ls)
        a, b = classification_scores(p, lab, 0.5), classification_scores(p, lab, 0.7)
        summary[m] = {"f1": a["f1"], "auc": a["auc"], "precision": a["precision"], "recall": a["recall"],
                      "f1_at_0.7": b["f1"]}
        print(f"all held-out tracks, {m}: F1 {a['f1']:.3f} (P {a['precision']:.3f} R {a['recall']:.3f}) "
              f"AUC {a['auc']:.3f}, F1 at 0.7 {b['f1']:.3f}")
    if args.jf:
        summary["jf"] = float(np.mean([r["jf"] for r in rows.values()]))
        print(f"mean held-out J&F {100 * summary['jf']:.1f} over {len(rows)} sequences")
    if args.candidates:
        summary["jf_at"] = {c: float(np.mean([r["jf_at"][c] for r in rows.values()])) for c in CANDIDATES}
        print("mean held-out J&F per threshold: " + "  ".join(f"{c}: {100 * v:.1f}" for c, v in summary["jf_at"].items()))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"steps": args.steps, "sequences": rows, "pooled": summary}, indent=2))


if __name__ == "__main__":
    main()
