"""Track-level benchmark of the motion stage: ``movseg bench motion``.

Precision / recall / F1 (at P = 0.5, and at the weights' grouping threshold) / ROC-AUC of the track
transformer and of the geometric baseline, on (a) synthetic ``test`` scenes (seeds never trained
on) and (b) DAVIS sequences, split into those the model trained on and those
held out (label = ground-truth foreground at the query point; points within
3 px of the mask boundary ignored).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from movseg.motion.cues import TrackCues
from movseg.motion.predict import GEOMETRIC_THRESHOLD, geometric_dynamic, load_model, predict_dynamic
from movseg.train import data
from movseg.train.trainer import classification_scores, holdout_of


def _scores(samples: list[dict], predict, thresholds: dict[str, float]) -> dict:
    """``{name: scores}`` of ``predict``'s P on the samples' labelled tracks at each named threshold."""
    probs, labels = [], []
    for s in samples:
        cues = TrackCues(s["points"].astype(np.float32), s["valid"], s["appearance"].astype(np.float32))
        keep = ~s["ignore"]
        probs.append(predict(cues)[keep])
        labels.append(s["label"][keep])
    prob, label = np.concatenate(probs), np.concatenate(labels)
    return {name: classification_scores(prob, label, t) for name, t in thresholds.items()}


def bench_motion(cache: str | Path, weights: str | Path | None = None, test_seed: int = 2026, test_scenes: int = 50,
                 davis_root: str | Path | None = None, trained_on: list[str] | None = None, workers: int = 2,
                 progress: bool = True, exact_tracks: bool = False) -> dict:
    """Scores per method and split: ``{split: {method: scores}}``. The transformer is scored at 0.5 and, when
    its weights carry a grouping threshold, at that one too (``transformer@<threshold>``): the pipeline's
    operating point. ``exact_tracks``: the rendered test scenes' exact tracks instead of our tracker's."""
    model = load_model(weights)
    at = {"transformer": 0.5}
    if model.threshold is not None and model.threshold != 0.5:
        at[f"transformer@{model.threshold:g}"] = model.threshold
    methods = {"transformer": (lambda c: predict_dynamic(model, c), at),
               "geometric": (lambda c: geometric_dynamic(c, GEOMETRIC_THRESHOLD), {"geometric": 0.5})}
    depth = model.config.depth  # exact depth of the rendered scenes; DAVIS has none, so it is not scored
    splits = {"synth-test": data.prepare_synth(cache, test_seed, test_scenes, "test", workers, progress, depth=depth,
                                               exact=exact_tracks)}
    if davis_root and not depth:
        from movseg.eval.evaluate import list_sequences

        seqs = list_sequences(Path(davis_root) / "Annotations" / "480p")
        paths = dict(zip(seqs, data.prepare_davis(cache, davis_root, seqs, workers, progress)))
        held = holdout_of(weights) if trained_on is None else set(seqs) - set(trained_on)
        splits["davis-trained"] = [paths[s] for s in seqs if s not in held]
        splits["davis-heldout"] = [paths[s] for s in seqs if s in held]
    result = {}
    for split, paths in splits.items():
        if not paths:
            continue
        samples = [data.load_sample(p) for p in paths]
        result[split] = {name: sc for fn, at in methods.values() for name, sc in _scores(samples, fn, at).items()}
    return result


def format_motion_table(result: dict) -> str:
    lines = [f"{'split':<15} {'method':<16} {'P':>6} {'R':>6} {'F1':>6} {'AUC':>6} {'tracks':>8} {'pos':>7}"]
    for split, methods in result.items():
        for m, s in methods.items():
            lines.append(f"{split:<15} {m:<16} {s['precision']:6.3f} {s['recall']:6.3f} {s['f1']:6.3f} "
                         f"{s['auc']:6.3f} {s['tracks']:8d} {s['positives']:7d}")
    return "\n".join(lines)
