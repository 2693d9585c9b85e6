"""Speed and memory of the tracking stage at DAVIS resolution (prints a table).

    python benchmarks/track_speed.py [--root ../shared/data/davis2016] [--sequences bear,train] [--tracks 5000] \
        [--set link=0]

Per sequence: frames are read first (not timed); then the tracker runs on
~5,000 SegAnyMo queries (grid 10 px, step 8, sampled), and its wall time is
split into flow (DIS forward + backward + homography per frame pair) and
chaining (following the tracks, checks, re-attachment). Peak RSS is that of
this process, frames included.
"""

import argparse
import json
import resource
import time

from movseg.io import read_video
from movseg.tracking import build_tracker, make_queries


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="../shared/data/davis2016")
    ap.add_argument("--sequences", default="bear,breakdance-flare,train")
    ap.add_argument("--tracks", type=int, default=5000)
    ap.add_argument("--tracker", default="flow")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a tracker setting, e.g. link=0 (repeatable; values are read as JSON)")
    args = ap.parse_args()
    print(f"{'sequence':<18}{'frames':>7}{'tracks':>8}{'flow ms/f':>11}{'chain ms/f':>12}{'total ms/f':>12}")
    tot_t, tot_f = 0.0, 0
    settings = {k: json.loads(v) for k, v in (kv.split("=", 1) for kv in args.set)}
    for s in args.sequences.split(","):
        video = read_video(f"{args.root}/JPEGImages/480p/{s}")
        q = make_queries(video.num_frames, video.height, video.width, 10, 8, args.tracks)
        tracker = build_tracker(args.tracker, **settings)
        t0 = time.perf_counter()
        tracker(video, q)
        dt = time.perf_counter() - t0
        T = video.num_frames
        tm = getattr(tracker, "timings", {})
        print(f"{s:<18}{T:>7}{len(q):>8}{1000 * tm.get('flow', float('nan')) / T:>11.1f}"
              f"{1000 * tm.get('chain', float('nan')) / T:>12.1f}{1000 * dt / T:>12.1f}")
        tot_t, tot_f = tot_t + dt, tot_f + T
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"mean {1000 * tot_t / tot_f:.1f} ms/frame over {tot_f} frames; peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
