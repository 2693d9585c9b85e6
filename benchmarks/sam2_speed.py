"""Whole-command time and peak memory of `movseg segment --segmenter sam2` against the default segmenter.

Without SAM2 weights (no machine here can download them) the model is one shaped like SAM2.1 Hiera-tiny or
-small with random weights: its cost is the real model's, its masks are noise, so only the timings mean
anything. With ``--checkpoint DIR`` (a local Hugging Face SAM2 folder) the real model runs.

    python benchmarks/sam2_speed.py --davis ../shared/data/davis2016 --sequence rhino --max-frames 30 [--arch small]
    python benchmarks/sam2_speed.py --davis ../shared/data/davis2016 --checkpoint DIR -- --device cuda

Extra arguments after ``--`` go to both `movseg segment` runs. Each run is a process of its own, started
from this small one (no torch here), so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Hiera backbones of the SAM2.1 releases (sam2.1_hiera_{t,s}.yaml): blocks per stage, global-attention blocks
ARCHS = {"tiny": ([1, 2, 7, 2], [5, 7, 9]), "small": ([1, 2, 11, 2], [7, 10, 13])}

_RUN = ("import resource, sys; from movseg.cli import main; code = main(sys.argv[1:]); "
        "print('peak_rss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(code)")


def build(folder: str, arch: str) -> None:
    """Save a randomly initialised SAM2 video model shaped like SAM2.1 Hiera-``arch`` to ``folder``."""
    import torch
    from transformers import Sam2HieraDetConfig, Sam2VideoConfig, Sam2VideoModel, Sam2VisionConfig

    blocks, global_blocks = ARCHS[arch]
    backbone = Sam2HieraDetConfig(blocks_per_stage=blocks, global_attention_blocks=global_blocks)
    torch.manual_seed(0)
    Sam2VideoModel(Sam2VideoConfig(vision_config=Sam2VisionConfig(backbone_config=backbone))).save_pretrained(folder)


def run(args: list[str]) -> tuple[float, int, dict]:
    """(wall seconds, peak RSS in MB, result.json) of one `movseg segment` process."""
    start = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", _RUN, *args], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if p.returncode:
        sys.exit(p.stderr)
    peak = int(p.stdout.split("peak_rss_kb")[-1].split()[0]) // 1024
    out = Path(args[args.index("-o") + 1])
    return wall, peak, json.loads(next(out.glob("*/result.json")).read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--davis", required=True)
    ap.add_argument("--sequence", default="rhino")
    ap.add_argument("--max-frames", type=int, default=30)
    ap.add_argument("--arch", default="tiny", choices=list(ARCHS), help="shape of the random model (no --checkpoint)")
    ap.add_argument("--checkpoint", help="a real SAM2 checkpoint folder instead of random weights")
    ap.add_argument("--build", metavar="DIR", help=argparse.SUPPRESS)  # internal: build the random model and exit
    ap.add_argument("extra", nargs="*", help="arguments for movseg segment (after --)")
    args = ap.parse_args()
    if args.build:
        return build(args.build, args.arch)
    clip = Path(args.davis) / "JPEGImages" / "480p" / args.sequence
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint
        if not checkpoint:
            checkpoint = str(Path(tmp) / f"sam2-{args.arch}-random")
            subprocess.run([sys.executable, __file__, "--davis", args.davis, "--arch", args.arch, "--build", checkpoint],
                           check=True)
        common = [str(clip), "--max-frames", str(args.max_frames), "--no-overlay", "-q", *args.extra]
        label = f"sam2 ({Path(checkpoint).name})" if args.checkpoint else f"sam2 (Hiera-{args.arch}, random weights)"
        print(f"{args.sequence}, {args.max_frames} frames; whole command, one process each")
        print(f"{'segmenter':<34} {'s/frame':>8} {'masks s':>8} {'objects':>8} {'peak MB':>8}")
        for name, opts in (("tracks (default)", []), (label, ["--segmenter", "sam2", "--sam2-checkpoint", checkpoint])):
            wall, peak, result = run(["segment", *common, "-o", str(Path(tmp) / name.split()[0]), *opts])
            frames = result["frames"]
            print(f"{name:<34} {wall / frames:8.3f} {result['timings']['masks']:8.1f} {len(result['objects']):8d} {peak:8d}")


if __name__ == "__main__":
    main()
