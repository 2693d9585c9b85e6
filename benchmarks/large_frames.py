"""Whole-command time and peak memory of `movseg segment` on a large-frame clip: a DAVIS sequence
upscaled (bicubic) to 3840x2160 JPEGs, so the answer is known to be the 480p one.

    python benchmarks/large_frames.py --davis ../shared/data/davis2016 --sequence rhino [--size 3840x2160]

Extra arguments after ``--`` go to `movseg segment` (e.g. ``-- --max-side 1280``).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--davis", required=True)
    ap.add_argument("--sequence", default="rhino")
    ap.add_argument("--size", default="3840x2160", help="WxH of the upscaled frames")
    ap.add_argument("extra", nargs="*", help="arguments for movseg segment (after --)")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / args.sequence
        clip.mkdir()
        for f in sorted((Path(args.davis) / "JPEGImages" / "480p" / args.sequence).glob("*.jpg")):
            big = cv2.resize(cv2.imread(str(f)), (w, h), interpolation=cv2.INTER_CUBIC)
            cv2.imwrite(str(clip / f.name), big, [cv2.IMWRITE_JPEG_QUALITY, 90])
        frames = len(list(clip.iterdir()))
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "movseg", "segment", str(clip), "-o", str(Path(tmp) / "out"), "-q",
                        *args.extra], check=True)
        wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{args.sequence} at {w}x{h}, {frames} frames: {wall:.1f} s ({wall / frames:.3f} s/frame), "
          f"peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
