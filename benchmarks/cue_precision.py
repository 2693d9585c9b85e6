"""How much of the geometric cue survives our tracker: a synthetic scene set, tracked two ways (prints a table).

    python benchmarks/cue_precision.py ROOT [--scenes 15] [--set KEY=VALUE ...]

For each scene written by ``movseg synth``, the ground-truth queries are tracked with the pipeline's
tracker (``--set`` overrides its settings). Each track is scored by its mean epipolar residual
(``res_fk`` of :func:`movseg.motion.cues.geometric_residuals`: Sampson distance to the fundamental
matrix fitted by RANSAC over 4 frames) and the score's ROC-AUC for "the track's object moves" is
reported for our tracks and for the renderer's exact tracks, beside our tracks' error and how
textured the frames are (median grey-level std of 7x7 windows; DAVIS at the tracker's 480 px working
size: 10.2).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from movseg.io.video import read_video
from movseg.method import tracker_options
from movseg.motion.cues import POINT_CHANNELS, CueConfig, geometric_residuals
from movseg.tracking import build_tracker
from movseg.tracking.base import queries_from_tracks
from movseg.train.trainer import roc_auc

FK = POINT_CHANNELS.index("res_fk") - POINT_CHANNELS.index("res_h1")


def mean_residual(xy: np.ndarray, valid: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(N,)`` mean ``res_fk`` over each track's frames where it is defined (0 where never)."""
    r = geometric_residuals(xy.astype(np.float32), valid, size, CueConfig())[..., FK]
    defined = valid & (r > 0)
    return np.where(defined.any(1), (r * defined).sum(1) / np.maximum(defined.sum(1), 1), 0.0)


def local_std(frames) -> float:
    out = []
    for f in frames:
        g = cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32)
        m, m2 = cv2.blur(g, (7, 7)), cv2.blur(g * g, (7, 7))
        out.append(np.sqrt(np.maximum(m2 - m * m, 0))[::10, ::10].ravel())
    return float(np.median(np.concatenate(out)))


def measure(root: Path, scenes: int, options: dict) -> dict:
    labels, ours, exact, errors, texture, seconds, frames = [], [], [], [], [], 0.0, 0
    for d in sorted(p for p in root.iterdir() if (p / "tracks.npz").exists())[:scenes]:
        gt = np.load(d / "tracks.npz")
        meta = json.loads((d / "meta.json").read_text())
        video = read_video(d / "frames")
        t0 = time.perf_counter()
        tracks = build_tracker("flow", **options)(video, queries_from_tracks(gt["xy"], gt["query_frame"]))
        seconds += time.perf_counter() - t0
        frames += video.num_frames
        valid = tracks.visible & (tracks.confidence >= CueConfig().min_confidence)
        size = (video.height, video.width)
        moving = [o["id"] for o in meta["objects"] if o["moving"]]
        labels.append(np.isin(gt["object_id"], moving))
        ours.append(mean_residual(tracks.xy, valid, size))
        exact.append(mean_residual(gt["xy"], gt["visible"], size))
        both = valid & gt["visible"]
        errors.append(np.linalg.norm(tracks.xy - gt["xy"], axis=-1)[both])
        texture.append(local_std(video.frames[::8]))
    y = np.concatenate(labels)
    err = np.concatenate(errors)
    return {"scenes": len(labels), "texture": float(np.median(texture)),
            "auc_ours": roc_auc(np.concatenate(ours), y),
            "auc_exact": roc_auc(np.concatenate(exact), y),
            "error_median": float(np.median(err)), "within_1px": float((err < 1).mean()),
            "ms_per_frame": 1000 * seconds / max(frames, 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root", help="scenes written by movseg synth")
    ap.add_argument("--scenes", type=int, default=15)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="tracker setting over the pipeline's (value parsed as JSON)")
    args = ap.parse_args()
    options = tracker_options("flow")
    for kv in args.set:
        k, v = kv.split("=", 1)
        options[k] = json.loads(v)
    r = measure(Path(args.root), args.scenes, options)
    print(f"{args.root}: {r['scenes']} scenes, texture (median 7x7 std) {r['texture']:.1f}, tracker {options}")
    print(f"  ROC-AUC of the mean epipolar residual: our tracks {r['auc_ours']:.3f}, exact tracks {r['auc_exact']:.3f}")
    print(f"  our tracks: median error {r['error_median']:.2f} px, {100 * r['within_1px']:.1f} % within 1 px, "
          f"{r['ms_per_frame']:.0f} ms/frame")


if __name__ == "__main__":
    main()
