"""Whole-command time, peak memory and J&F of `movseg segment` on a long clip, whole and in pieces.

The clip is a DAVIS sequence played forwards, backwards and forwards (3 x 90 = 270 frames for `rhino`),
``--loops`` times over, with its ground truth copied in the same order, so the answer is known.

    python benchmarks/long_video.py --davis ../shared/data/davis2016 --sequence rhino --loops 2 \
        --segment-frames 150 --segment-frames 0
    python benchmarks/long_video.py --davis ../shared/data/davis2016 --sequence bear --sequence tennis \
        --loops 1 --segment-frames 150 --overlap 12 --overlap 24

Each ``--segment-frames`` value (times each ``--overlap``, the frames the pieces share) is one run of
`movseg segment` in its own process (0: the whole video at once). Prints one line per run and sequence:
MOS and per-object J&F, wall time, seconds per frame and peak RSS, then the mean over sequences of
each setting when there are several.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from movseg.eval.evaluate import evaluate


def make_clip(davis: Path, sequence: str, loops: int, root: Path) -> tuple[Path, Path]:
    """``(frames folder, ground-truth root)`` of the sequence played forwards, backwards, forwards, ``loops`` times."""
    images = sorted((davis / "JPEGImages" / "480p" / sequence).glob("*.jpg"))
    masks = sorted((davis / "Annotations" / "480p" / sequence).glob("*.png"))
    order = list(range(len(images)))
    order = (order + order[::-1] + order) * loops
    clip, gt = root / f"{sequence}-long", root / "gt" / f"{sequence}-long"
    clip.mkdir(parents=True)
    gt.mkdir(parents=True)
    for i, k in enumerate(order):
        shutil.copy(images[k], clip / f"{i:05d}.jpg")
        shutil.copy(masks[k], gt / f"{i:05d}.png")
    return clip, gt.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--davis", required=True)
    ap.add_argument("--sequence", action="append", help="DAVIS sequence (default: rhino); repeatable")
    ap.add_argument("--loops", type=int, default=2, help="forwards-backwards-forwards runs of the sequence")
    ap.add_argument("--segment-frames", type=int, action="append", help="piece length (0: whole); repeatable")
    ap.add_argument("--overlap", type=int, action="append",
                    help="frames the pieces share (default: the CLI's); repeatable")
    args = ap.parse_args()
    settings = [(n, o) for n in args.segment_frames or [150, 0] for o in (args.overlap or [None] if n else [None])]
    rows = {s: [] for s in settings}
    for sequence in args.sequence or ["rhino"]:
        with tempfile.TemporaryDirectory() as tmp:
            clip, gt = make_clip(Path(args.davis), sequence, args.loops, Path(tmp))
            frames = len(list(clip.iterdir()))
            for n, overlap in settings:
                out = Path(tmp) / f"out-{n}-{overlap}"
                cmd = [sys.executable, "-m", "movseg", "segment", str(clip), "-o", str(out), "-q",
                       "--segment-frames", str(n)] + (["--segment-overlap", str(overlap)] if overlap else [])
                start = time.perf_counter()
                child = subprocess.Popen(cmd)
                _, status, usage = os.wait4(child.pid, 0)  # this run's own peak, not the largest child's so far
                wall = time.perf_counter() - start
                if os.waitstatus_to_exitcode(status):
                    sys.exit(f"movseg segment failed with exit status {os.waitstatus_to_exitcode(status)}")
                row = (100 * evaluate(out, gt, "mos")["mean"]["JF"], 100 * evaluate(out, gt, "fine")["mean"]["JF"],
                       wall / frames, usage.ru_maxrss / 1024)
                rows[n, overlap].append(row)
                print(f"{sequence}, {frames} frames, --segment-frames {n:>4}, overlap {overlap or '-':>3}: "
                      + _line(row) + f"  {wall:6.1f} s", flush=True)
    if len(args.sequence or []) > 1:
        for (n, overlap), r in rows.items():
            mean = [sum(x) / len(r) for x in zip(*r)]
            print(f"mean, --segment-frames {n:>4}, overlap {overlap or '-':>3}: " + _line(mean), flush=True)


def _line(row) -> str:
    mos, fine, spf, peak = row
    return f"MOS J&F {mos:5.1f}  per object {fine:5.1f}  {spf:.3f} s/frame  peak {peak:6.0f} MB"


if __name__ == "__main__":
    main()
