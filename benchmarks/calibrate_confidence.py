"""Fit the flow tracker's confidence (logistic regression) on synthetic training scenes.

    movseg synth /tmp/train --scenes 40 --seed 0 --workers 2
    python benchmarks/calibrate_confidence.py /tmp/train --scenes 40

A track point counts as correct when the ground truth sees it and the
prediction is within 4 px at TAP-Vid's 256x256 scale. Prints the fitted
coefficients (to paste into ``CONFIDENCE`` in movseg/tracking/flow_tracker.py),
the ROC-AUC of the fitted and the current confidence, and the calibration
table on held-back scenes (the last quarter). Needs scikit-learn.
"""

import argparse
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from movseg.io import read_video
from movseg.tracking import build_tracker
from movseg.tracking.base import queries_from_tracks
from movseg.tracking.flow_tracker import CONFIDENCE


def collect(d: Path):
    video = read_video(d / "frames")
    gt = np.load(d / "tracks.npz")
    qf = gt["query_frame"]
    q = queries_from_tracks(gt["xy"], qf)
    tracker = build_tracker("flow", keep_features=True)
    tr = tracker(video, q)
    scale = np.array([256 / video.width, 256 / video.height])
    err = np.linalg.norm((tr.xy - gt["xy"]) * scale, axis=-1)
    use = tr.visible & (np.arange(len(gt["visible"][0]))[None] != qf[:, None])
    y = gt["visible"] & (err < 4)
    return tracker.features[use], y[use], tr.confidence[use]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root")
    ap.add_argument("--scenes", type=int, default=40)
    args = ap.parse_args()
    dirs = sorted(p for p in Path(args.root).iterdir() if (p / "tracks.npz").is_file())[: args.scenes]
    split = len(dirs) * 3 // 4
    fit = [collect(d) for d in dirs[:split]]
    held = [collect(d) for d in dirs[split:]]
    X, y = np.concatenate([f[0] for f in fit]), np.concatenate([f[1] for f in fit])
    Xh, yh, ch = (np.concatenate([f[i] for f in held]) for i in range(3))
    model = LogisticRegression(fit_intercept=False, C=10.0, max_iter=1000).fit(X, y)
    w = model.coef_[0]
    p = 1 / (1 + np.exp(-(Xh @ w)))
    print(f"fitted on {len(X)} points of {split} scenes, checked on {len(Xh)} points of {len(dirs) - split} scenes")
    print("CONFIDENCE = np.array([" + ", ".join(f"{v:.3f}" for v in w) + "], np.float32)")
    print(f"held-back ROC-AUC: fitted {roc_auc_score(yh, p):.3f}, current ({CONFIDENCE.round(3).tolist()}) {roc_auc_score(yh, ch):.3f}")
    print("calibration (held back): confidence bin -> fraction correct")
    for lo in np.arange(0, 1, 0.2):
        m = (p >= lo) & (p < lo + 0.2)
        if m.any():
            print(f"  [{lo:.1f}, {lo + 0.2:.1f})  {yh[m].mean():.3f}  ({m.sum()} points)")


if __name__ == "__main__":
    main()
