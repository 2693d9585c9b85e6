"""How well can camera geometry alone tell moving tracks from static ones on our synthetic scenes?

Reads the cached training samples of the validation scenes (``movseg train`` builds them:
our tracker's tracks and cues on `train`-preset scenes, seed 1) and re-samples each scene's
true camera (track positions come back from the cached float16 cues, to about 0.1 px).
Per track it scores, and prints the ROC-AUC for "moving" and the recall at the
thresholds where 5 % and 1 % of the static tracks are flagged:

- ``rigid fit, true cameras``: the smallest RMS reprojection error over the whole track of a
  static 3D point on the ray of its first valid point (inverse depth searched on a grid,
  depth ≥ 0.5 m). A static point fits up to tracking noise; a moving one fits only if its
  motion mimics a static point's parallax. This is the multi-view bound of any cue built on
  an estimated camera.
- ``epipolar, true cameras``: the median Sampson distance to the true 4-frame fundamental matrix.
- ``res_fk`` / ``res_hk``: the median of the cues the track transformer reads (fitted by RANSAC).
- ``track transformer``: P(dynamic) of the shipped weights, for comparison.

    python benchmarks/motion_bound.py --cache runs/cache --scenes 30
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

from movseg.motion import load_model, predict_dynamic
from movseg.motion.cues import POINT_CHANNELS, TrackCues, _sampson
from movseg.synth.scene import PRESETS, sample_scene
from movseg.train.data import load_sample
from movseg.train.trainer import roc_auc


def skew(t: np.ndarray) -> np.ndarray:
    return np.array([[0, -t[2], t[1]], [t[2], 0, -t[0]], [-t[1], t[0], 0]])


def rigid_fit_error(xy: np.ndarray, valid: np.ndarray, cam, inv_depths: np.ndarray) -> np.ndarray:
    """``(N,)``: min over inverse depth of the RMS reprojection error (px) of a static point on the ray
    of each track's first valid point, with the true cameras."""
    n, t = valid.shape
    ref = valid.argmax(1)
    P = np.stack([cam.K[f] @ np.c_[cam.R[f], -cam.R[f] @ cam.C[f]] for f in range(t)])  # (T, 3, 4)
    ray = np.einsum("nij,nj->ni", np.linalg.inv(cam.K[ref]), np.c_[xy[np.arange(n), ref], np.ones(n)])
    ray_world = np.einsum("nji,nj->ni", cam.R[ref], ray)  # R^T d
    a = np.einsum("tij,nj->nti", P[:, :, :3], ray_world)  # image of the ray's direction (N, T, 3)
    b = np.einsum("tij,nj->nti", P, np.c_[cam.C[ref], np.ones(n)])  # image of the reference centre
    best = np.full(n, np.inf)
    for rho in inv_depths:  # X = C_ref + d / rho, homogeneous (rho C_ref + d, rho)
        p = a + rho * b
        z = p[..., 2]
        err = np.linalg.norm(p[..., :2] / np.where(np.abs(z) < 1e-9, 1e-9, z)[..., None] - xy, axis=-1)
        err = np.where(z > 0, err, 1e3)
        sq = np.where(valid, err ** 2, 0).sum(1) / np.maximum(valid.sum(1), 1)
        best = np.minimum(best, np.sqrt(sq))
    return best


def epipolar_median(xy: np.ndarray, valid: np.ndarray, cam, gap: int) -> np.ndarray:
    """``(N,)``: median over frames of the Sampson distance (px) to the true ``gap``-frame fundamental matrix."""
    n, t = valid.shape
    d = np.full((n, t), np.nan)
    for f in range(1, t):
        g = min(gap, f)
        both = np.flatnonzero(valid[:, f] & valid[:, f - g])
        if not len(both):
            continue
        E = skew(cam.R[f] @ (cam.C[f - g] - cam.C[f])) @ cam.R[f] @ cam.R[f - g].T
        F = np.linalg.inv(cam.K[f]).T @ E @ np.linalg.inv(cam.K[f - g])
        d[both, f] = np.sqrt(_sampson(F, xy[both, f - g], xy[both, f]))
    return np.nan_to_num(np.nanmedian(d, 1))


def cue_median(points: np.ndarray, valid: np.ndarray, name: str) -> np.ndarray:
    x = points[..., POINT_CHANNELS.index(name)]
    return np.nan_to_num(np.nanmedian(np.where(valid & (x > 0), x, np.nan), 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default="runs/cache")
    ap.add_argument("--seed", type=int, default=1, help="validation scene seed (train preset)")
    ap.add_argument("--scenes", type=int, default=30)
    args = ap.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN medians of tracks without a defined cue
    preset = PRESETS["train"]
    h, w = preset.size
    scores: dict[str, list] = {"rigid fit, true cameras": [], "epipolar, true cameras": [], "res_fk": [], "res_hk": [],
                               "track transformer": []}
    model = load_model()
    labels = []
    for i in range(args.scenes):
        s = load_sample(Path(args.cache) / f"train-{args.seed}" / f"{i:05d}.npz")
        points, valid = s["points"].astype(np.float64), s["valid"]
        xy = np.stack([(points[..., 0] + 1) / 2 * w, (points[..., 1] + 1) / 2 * h], -1)  # cues keep u, v in [-1, 1]
        cam = sample_scene(args.seed, preset, i).camera
        keep = valid.any(1)
        labels.append(s["label"][keep] > 0)
        scores["rigid fit, true cameras"].append(rigid_fit_error(xy[keep], valid[keep], cam, np.linspace(0, 2, 81)))
        scores["epipolar, true cameras"].append(epipolar_median(xy[keep], valid[keep], cam, 4))
        scores["res_fk"].append(cue_median(points[keep], valid[keep], "res_fk"))
        scores["res_hk"].append(cue_median(points[keep], valid[keep], "res_hk"))
        cues = TrackCues(s["points"].astype(np.float32), valid, s["appearance"].astype(np.float32))
        scores["track transformer"].append(predict_dynamic(model, cues)[keep])
    y = np.concatenate(labels)
    print(f"{len(y)} tracks, {y.sum()} on moving objects, {args.scenes} scenes (train preset, seed {args.seed})")
    print(f"{'score':<26} {'ROC-AUC':>7} {'recall @5% FPR':>15} {'recall @1% FPR':>15}")
    for name, v in scores.items():
        v = np.concatenate(v)
        r5 = (v[y] > np.quantile(v[~y], 0.95)).mean()
        r1 = (v[y] > np.quantile(v[~y], 0.99)).mean()
        print(f"{name:<26} {roc_auc(v, y):7.3f} {r5:15.3f} {r1:15.3f}")


if __name__ == "__main__":
    main()
