"""``movseg bench davis``: segment every DAVIS sequence, evaluate (MOS), time it.
``movseg bench synth``: the same on rendered scenes, with the fine-grained (per-object) protocol and
the false-object rate on camera-only scenes."""

from __future__ import annotations

import json
import resource
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

from movseg.errors import MovsegError
from movseg.eval.evaluate import evaluate
from movseg.pipeline import SegmentConfig, run_segment


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 if sys.platform != "darwin" else r / 2**20


def bench_davis(
    root: str | Path,
    out: str | Path,
    sequences: list[str] | None = None,
    max_frames: int | None = None,
    config: SegmentConfig | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Run the segmentation on ``root/JPEGImages/480p/<seq>`` and evaluate against ``root/Annotations/480p``.

    Masks go to ``out/<seq>/masks/<frame>.png``. Per sequence, ``seconds`` is
    the wall time of the segmentation job (read, segment, write masks), not
    of the evaluation.

    Besides MOS (all objects merged), the same masks are scored per object (``fine``: each
    ground-truth object against one predicted object): with DAVIS-2016's single object per
    sequence, the gap to MOS is what splitting the object into pieces costs.

    Returns:
        ``{"method", "protocol": "mos", "sequences": {seq: {"J", "F", "JF", "fine_JF",
        "frames", "seconds"}}, "mean": {"J", "F", "JF"}, "fine": {"J", "F", "JF"},
        "seconds_per_frame", "peak_rss_mb", "config"}``.
    """
    root = Path(root)
    images = root / "JPEGImages" / "480p"
    annotations = root / "Annotations" / "480p"
    if not images.is_dir() or not annotations.is_dir():
        raise MovsegError(f"{root} is not a DAVIS root: expected JPEGImages/480p and Annotations/480p inside")
    seqs = sequences or sorted(d.name for d in images.iterdir() if d.is_dir())
    missing = [s for s in seqs if not (images / s).is_dir()]
    if missing:
        raise MovsegError(f"sequence {missing[0]} not found in {images}")
    config = replace(config or SegmentConfig(), max_frames=max_frames)
    out = Path(out)
    seconds: dict[str, float] = {}
    for i, s in enumerate(seqs, 1):
        t0 = time.perf_counter()
        run_segment(images / s, out, config)
        seconds[s] = time.perf_counter() - t0
        log(f"[{i}/{len(seqs)}] {s}: {seconds[s]:.1f} s")
    scores = evaluate(out, annotations, "mos", seqs, max_frames=max_frames)
    fine = evaluate(out, annotations, "fine", seqs, max_frames=max_frames)
    total_frames = sum(v["frames"] for v in scores["sequences"].values())
    per_seq = {
        s: {k: v[k] for k in ("J", "F", "JF")} | {"fine_JF": fine["sequences"][s]["JF"], "frames": v["frames"],
                                                  "seconds": round(seconds[s], 3)}
        for s, v in scores["sequences"].items()
    }
    return {
        "method": config.method,
        "protocol": "mos",
        "root": str(root),
        "sequences": per_seq,
        "mean": {k: scores["mean"][k] for k in ("J", "F", "JF")},
        "fine": {k: fine["mean"][k] for k in ("J", "F", "JF")},
        "seconds_per_frame": sum(seconds.values()) / max(total_frames, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "config": asdict(config),
    }


def bench_synth(root: str | Path, out: str | Path, config: SegmentConfig | None = None, limit: int | None = None,
                log: Callable[[str], None] = print) -> dict:
    """Segment every scene of a ``movseg synth`` root (``<scene>/frames/``) and evaluate MOS and fine
    (per-object) J&F against ``<scene>/masks/``. Scenes whose ground truth has no moving object
    are camera-only: they report the fraction of frames with any predicted object.

    Returns ``{"mos": {J, F, JF}, "fine": {J, F, JF}, "camera_only": {"scenes", "frames",
    "false_object_frame_rate"}, "sequences", "seconds_per_frame", "peak_rss_mb", "config"}``.
    """
    import numpy as np

    from movseg.io.masks import read_mask_folder
    from movseg.types import mask_from_intervals

    root, out = Path(root), Path(out)
    scenes = sorted(d for d in root.iterdir() if (d / "frames").is_dir())[:limit]
    if not scenes:
        raise MovsegError(f"no synthetic scenes (<scene>/frames/) under {root}: write some with `movseg synth`")
    config = config or SegmentConfig()
    seconds, frames, camera_only = 0.0, 0, []
    for i, d in enumerate(scenes, 1):
        t0 = time.perf_counter()
        folder, _ = run_segment(d / "frames", out, config, name=d.name)
        seconds += time.perf_counter() - t0
        result = json.loads((folder / "result.json").read_text())
        frames += result["frames"]
        _, gt = read_mask_folder(d / "masks")
        if not gt.any():  # frames where any object has pixels
            camera_only.append(np.any([mask_from_intervals(o["present"], result["frames"]) for o in result["objects"]]
                                      + [np.zeros(result["frames"], bool)], axis=0))
        log(f"[{i}/{len(scenes)}] {d.name}: {len(result['objects'])} object(s)")
    names = [d.name for d in scenes]
    mos = evaluate(out, root, "mos", names)
    fine = evaluate(out, root, "fine", names)
    flags = np.concatenate(camera_only) if camera_only else np.zeros(0, bool)
    return {
        "root": str(root),
        "mos": {k: mos["mean"][k] for k in ("J", "F", "JF")},
        "fine": {k: fine["mean"][k] for k in ("J", "F", "JF")},
        "camera_only": {"scenes": len(camera_only), "frames": int(flags.size),
                        "false_object_frame_rate": float(flags.mean()) if flags.size else None},
        "sequences": {s: {"mos_JF": mos["sequences"][s]["JF"], "fine_JF": fine["sequences"][s]["JF"]} for s in names},
        "seconds_per_frame": seconds / max(frames, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "config": asdict(config),
    }


def write_json(result: dict, path: str | Path) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(result, indent=2) + "\n")
