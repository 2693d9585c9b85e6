"""Whole-command time, peak memory and J&F of `movseg segment` on a long clip, whole and in pieces.

The clip is a DAVIS sequence played forwards and backwards in turn, 3 x ``--loops`` times (3 x 90 = 270
frames for `rhino` at one loop), with its ground truth copied in the same order, so the answer is known.
It never jumps from the sequence's last frame to its first: that would be a shot change, after which the
objects rightly take new ids.

    python benchmarks/long_video.py --davis ../shared/data/davis2016 --sequence rhino --loops 2 \
        --segment-frames 150 --segment-frames 0
    python benchmarks/long_video.py --davis ../shared/data/davis2016 --sequence bear --sequence tennis \
        --loops 1 --segment-frames 150 --overlap 12 --overlap 24

Each ``--segment-frames`` value (times each ``--overlap``, the frames the pieces share) is one run of
`movseg segment` in its own process (0: the whole video at once). Prints one line per run and sequence:
MOS and per-object J&F (nan when there are more than the 20 objects the protocol allows), the largest
object id, seconds per frame, peak RSS and wall time, then the mean over sequences of each setting when
there are several.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_clip(davis: Path, sequence: str, loops: int, root: Path) -> tuple[Path, Path]:
    """``(frames folder, ground-truth root)`` of the sequence played forwards and backwards in turn, ``3 * loops``
    times."""
    images = sorted((davis / "JPEGImages" / "480p" / sequence).glob("*.jpg"))
    masks = sorted((davis / "Annotations" / "480p" / sequence).glob("*.png"))
    order = list(range(len(images)))
    order = (order + order[::-1]) * (3 * loops // 2) + order * (3 * loops % 2)
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
    ap.add_argument("--loops", type=int, default=2, help="the clip plays the sequence 3 x N times, forwards and "
                                                         "backwards in turn")
    ap.add_argument("--segment-frames", type=int, action="append", help="piece length (0: whole); repeatable")
    ap.add_argument("--overlap", type=int, action="append",
                    help="frames the pieces share (default: the CLI's); repeatable")
    ap.add_argument("--segment-args", default="", help="more `movseg segment` options for every run, e.g. "
                    "'--threshold auto'")
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
                cmd += shlex.split(args.segment_args)
                start = time.perf_counter()
                child = subprocess.Popen(cmd)
                # this run's own peak. A child starts with its parent's peak (Linux copies it at fork), so this
                # process never holds masks: the scoring runs in processes of its own
                _, status, usage = os.wait4(child.pid, 0)
                wall = time.perf_counter() - start
                if os.waitstatus_to_exitcode(status):
                    sys.exit(f"movseg segment failed with exit status {os.waitstatus_to_exitcode(status)}")
                ids = max((o["id"] for o in json.loads((out / clip.name / "result.json").read_text())["objects"]),
                          default=0)
                row = (_score(out, gt, "mos"), _score(out, gt, "fine") if ids <= 20 else float("nan"), ids,
                       wall / frames, usage.ru_maxrss / 1024)
                rows[n, overlap].append(row)
                print(f"{sequence}, {frames} frames, --segment-frames {n:>4}, overlap {overlap or '-':>3}: "
                      + _line(row) + f"  {wall:6.1f} s", flush=True)
    if len(args.sequence or []) > 1:
        for (n, overlap), r in rows.items():
            mean = [sum(x) / len(r) for x in zip(*r)]
            print(f"mean, --segment-frames {n:>4}, overlap {overlap or '-':>3}: " + _line(mean), flush=True)


def _score(pred: Path, gt: Path, protocol: str) -> float:
    """Mean J&F x 100 by `movseg eval` in a process of its own."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "movseg", "eval", "--pred", str(pred), "--gt", str(gt), "--protocol",
                        protocol, "--json", f"{tmp}/r.json", "-q"], check=True)
        return 100 * json.loads(Path(f"{tmp}/r.json").read_text())["mean"]["JF"]


def _line(row) -> str:
    """One run's figures; per object is nan where the output has more than the 20 ids the protocol allows."""
    mos, fine, ids, spf, peak = row
    return (f"MOS J&F {mos:5.1f}  per object {fine:5.1f}  ids {ids:4.1f}  {spf:.3f} s/frame  "
            f"peak {peak:6.0f} MB")


if __name__ == "__main__":
    main()
