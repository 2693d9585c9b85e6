"""``movseg bench tracks``: TAP-Vid metrics on synthetic ground truth, membership on DAVIS."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from movseg.errors import MovsegError
from movseg.eval.bench import peak_rss_mb
from movseg.io import read_mask_folder, read_video
from movseg.tracking.base import build_tracker, make_queries, queries_from_tracks
from movseg.tracking.metrics import membership_consistency, tapvid_metrics


def scene_dirs(root: Path, limit: int | None) -> list[Path]:
    dirs = sorted(p for p in Path(root).iterdir() if (p / "tracks.npz").is_file() and not p.name.startswith("."))
    if not dirs:
        raise MovsegError(f"no synthetic scenes (folders with tracks.npz) in {root}: make some with `movseg synth`")
    return dirs[:limit]


def bench_synth(root, tracker: str = "flow", limit: int | None = None, config: dict | None = None,
                log: Callable[[str], None] = print) -> dict:
    """Track the ground-truth queries of every scene; TAP-Vid metrics per scene and averaged."""
    per, seconds, frames = {}, 0.0, 0
    for d in scene_dirs(Path(root), limit):
        video = read_video(d / "frames")
        gt = np.load(d / "tracks.npz")
        qf = gt["query_frame"].astype(int)
        queries = queries_from_tracks(gt["xy"], qf)
        t0 = time.perf_counter()
        tr = build_tracker(tracker, **(config or {}))(video, queries)
        seconds += time.perf_counter() - t0
        frames += video.num_frames
        per[d.name] = tapvid_metrics(gt["xy"], gt["visible"], tr.xy, tr.visible, qf, (video.height, video.width))
        log(f"{d.name}: AJ {100 * per[d.name]['AJ']:.1f}")
    keys = per[next(iter(per))].keys()
    mean = {k: float(np.mean([v[k] for v in per.values()])) for k in keys}
    return {"tracker": tracker, "scenes": per, "mean": mean, "seconds_per_frame": seconds / frames, "peak_rss_mb": peak_rss_mb()}


def bench_davis_tracks(root, tracker: str = "flow", sequences: list[str] | None = None, grid_size: int = 10,
                       step: int = 8, max_frames: int | None = None, config: dict | None = None,
                       log: Callable[[str], None] = print) -> dict:
    """Label-free check on real video: membership consistency of tracks w.r.t. the GT foreground."""
    root = Path(root)
    images = root / "JPEGImages" / "480p"
    if not images.is_dir():
        raise MovsegError(f"{root} is not a DAVIS root: expected JPEGImages/480p inside")
    seqs = sequences or sorted(p.name for p in images.iterdir() if p.is_dir())
    per, total_c, total_n, seconds, frames = {}, 0, 0, 0.0, 0
    for s in seqs:
        video = read_video(images / s, max_frames=max_frames)
        _, masks = read_mask_folder(root / "Annotations" / "480p" / s)
        masks = masks[: video.num_frames] > 0
        q = make_queries(video.num_frames, video.height, video.width, grid_size, step)
        t0 = time.perf_counter()
        tr = build_tracker(tracker, **(config or {}))(video, q)
        seconds += time.perf_counter() - t0
        frames += video.num_frames
        c, n = membership_consistency(tr.xy, tr.visible, tr.query_frame, masks)
        fg_c, fg_n = membership_consistency(tr.xy, tr.visible, tr.query_frame, masks, only_foreground=True)
        per[s] = {"consistency": c / max(n, 1), "foreground_consistency": fg_c / max(fg_n, 1), "points": n,
                  "visible_fraction": float(tr.visible.mean())}
        total_c, total_n = total_c + c, total_n + n
        log(f"{s}: {100 * per[s]['consistency']:.2f} % ({100 * per[s]['foreground_consistency']:.1f} % on the foreground)")
    mean = {
        "consistency": total_c / max(total_n, 1),
        "consistency_mean_of_sequences": float(np.mean([v["consistency"] for v in per.values()])),
        "foreground_consistency": float(np.mean([v["foreground_consistency"] for v in per.values()])),
        "visible_fraction": float(np.mean([v["visible_fraction"] for v in per.values()])),
    }
    return {"tracker": tracker, "sequences": per, "mean": mean, "seconds_per_frame": seconds / frames,
            "peak_rss_mb": peak_rss_mb()}
