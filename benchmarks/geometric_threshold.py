"""Choose the geometric baseline's threshold on the validation scenes (never on test or DAVIS).

    python benchmarks/geometric_threshold.py --cache runs/cache --seed 1 --scenes 60

Prints the F1-maximising threshold of the per-track residual score for a few
quantiles; movseg.train.bench.GEOMETRIC_THRESHOLD holds the chosen one.
"""

from __future__ import annotations

import argparse

import numpy as np

from movseg.motion.cues import TrackCues
from movseg.motion.predict import geometric_score
from movseg.train import data
from movseg.train.trainer import classification_scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default="runs/cache")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scenes", type=int, default=60)
    args = ap.parse_args()
    samples = [data.load_sample(p) for p in data.prepare_synth(args.cache, args.seed, args.scenes, "train", 2)]
    labels = np.concatenate([s["label"] for s in samples]).astype(bool)
    for q in (0.5, 0.75, 0.9):  # of res_h1 (see movseg.motion.predict.geometric_score)
        score = np.concatenate([geometric_score(TrackCues(s["points"].astype(np.float32), s["valid"],
                                                          s["appearance"]), q) for s in samples])
        best = max(((classification_scores((score >= t).astype(float), labels)["f1"], t)
                    for t in np.arange(0.2, 6.0, 0.05)))
        auc = classification_scores(score, labels)["auc"]
        print(f"quantile {q:.2f}: best F1 {best[0]:.3f} at threshold {best[1]:.2f}, ROC-AUC {auc:.3f}")


if __name__ == "__main__":
    main()
