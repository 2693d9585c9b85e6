"""Wall time and peak memory of `movseg eval` on a long clip, per protocol.

The clip is a DAVIS sequence played forwards and backwards in turn (as in ``long_video.py``: 540 frames
of 854x480 for `rhino` at ``--loops 2``). The prediction is its ground truth moved 4 px right and cut
into a left and a right object, so that the per-object protocols have two predictions to match.

    python benchmarks/eval_memory.py --davis ../shared/data/davis2016 --sequence rhino --loops 2

Each protocol runs in a process of its own; its own peak RSS is read with ``wait4``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from long_video import make_clip


def make_prediction(gt: Path, out: Path) -> None:
    """``out/<clip>/<frame>.png``: each GT mask shifted 4 px right, ids 1 (left of its centre) and 2 (right)."""
    import numpy as np

    from movseg.io.masks import read_mask, write_mask

    for seq in gt.iterdir():
        (out / seq.name).mkdir(parents=True)
        for f in sorted(seq.glob("*.png")):
            fg = np.roll(read_mask(f) > 0, 4, axis=1)
            xs = np.flatnonzero(fg.any(axis=0))
            lab = fg.astype(np.uint8)
            if len(xs):
                lab[:, (xs[0] + xs[-1]) // 2:][fg[:, (xs[0] + xs[-1]) // 2:]] = 2
            write_mask(out / seq.name / f.name, lab)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--davis", required=True)
    ap.add_argument("--sequence", default="rhino")
    ap.add_argument("--loops", type=int, default=2)
    ap.add_argument("--protocol", action="append", help="mos, fine, mos-i (default: all three); repeatable")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        _, gt = make_clip(Path(args.davis), args.sequence, args.loops, Path(tmp))
        # the prediction is written by a child: this process stays small, and a child starts with its peak
        subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
                        f"from eval_memory import make_prediction; from pathlib import Path; "
                        f"make_prediction(Path({str(gt)!r}), Path({tmp!r}) / 'pred')"], check=True)
        frames = len(list(next(gt.iterdir()).iterdir()))
        for protocol in args.protocol or ["mos", "fine", "mos-i"]:
            start = time.perf_counter()
            child = subprocess.Popen([sys.executable, "-m", "movseg", "eval", "--pred", f"{tmp}/pred", "--gt", str(gt),
                                      "--protocol", protocol, "-q"], stdout=subprocess.DEVNULL)
            _, status, usage = os.wait4(child.pid, 0)
            if os.waitstatus_to_exitcode(status):
                sys.exit(f"movseg eval failed with exit status {os.waitstatus_to_exitcode(status)}")
            print(f"{args.sequence}, {frames} frames, {protocol:5}: {time.perf_counter() - start:6.1f} s, "
                  f"peak {usage.ru_maxrss / 1024:6.0f} MB", flush=True)


if __name__ == "__main__":
    main()
