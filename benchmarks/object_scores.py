"""How sure the motion stage is of each object it found, and whether the object is real.

    movseg bench synth --root /tmp/synth_static_val72 -o out/pans --json out/pans.json --save-tracks
    python benchmarks/object_scores.py out/pans                         # camera-only: every object is false
    movseg bench synth --root /tmp/synth_val -o out/val --json out/val.json --save-tracks
    python benchmarks/object_scores.py out/val --gt /tmp/synth_val      # + each object's best IoU with the truth

Reads the result folders that ``movseg segment --save-tracks`` writes (``result.json``, ``tracks.npz``,
``masks/``) and prints one line per predicted object:

* ``score``: the object's score in ``result.json``, the mean P(dynamic) of its tracks; it is what the
  masks stage compares with ``TracksSegmenterConfig.small_min_score``;
* ``tracks``: how many tracks the object has;
* ``coverage``: the share of the frames with at least 3 of its tracks visible on which it has a mask;
* ``iou`` (with ``--gt``): its best IoU over the whole clip with one ground-truth object (0: a false object;
  a small piece of a true object scores low too).

The summary gives the range of scores of the objects that match nothing (``iou`` < 0.1; every object without
``--gt``, as on camera-only clips), which is how the gate of 0.85 was chosen (docs/benchmarks.md, "Small
objects, only when sure").
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from movseg.io.masks import read_mask_folder
from movseg.types import mask_from_intervals


def object_rows(folder: Path, gt_root: Path | None = None, min_visible: int = 3) -> list[dict]:
    """One row per object of the result ``folder`` (see the module docstring)."""
    result = json.loads((folder / "result.json").read_text())
    z = np.load(folder / "tracks.npz")
    object_id, visible = z["object_id"], z["visible"]
    T = result["frames"]
    pred = read_mask_folder(folder / "masks")[1] if gt_root else None
    gt = read_mask_folder(gt_root / folder.name / "masks")[1] if gt_root else None
    rows = []
    for obj in result["objects"]:
        k = obj["id"]
        present = mask_from_intervals(obj["present"], T)
        active = visible[object_id == k].sum(0) >= min_visible
        row = {"scene": folder.name, "id": k, "score": obj["score"], "tracks": int((object_id == k).sum()),
               "coverage": float((present & active).sum() / max(active.sum(), 1))}
        if gt is not None:
            mine = pred == k
            row["iou"] = max([float((mine & (gt == g)).sum() / (mine | (gt == g)).sum()) for g in np.unique(gt[gt > 0])],
                             default=0.0)
        rows.append(row)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", type=Path, help="folder of result folders (movseg bench synth -o, with --save-tracks)")
    p.add_argument("--gt", type=Path, help="the scenes' root, to score each object against the truth")
    args = p.parse_args()
    folders = sorted(d for d in args.results.iterdir() if (d / "tracks.npz").is_file()) if args.results.is_dir() else []
    if not folders:
        raise SystemExit(f"no result folders with tracks.npz under {args.results}: run the bench with --save-tracks")
    rows = [r for d in folders for r in object_rows(d, args.gt)]
    for r in sorted(rows, key=lambda r: r["score"]):
        iou = f"  iou {r['iou']:.2f}" if "iou" in r else ""
        print(f"{r['scene']:24s} object {r['id']:2d}  score {r['score']:.3f}  tracks {r['tracks']:5d}  "
              f"coverage {r['coverage']:.2f}{iou}")
    false = [r["score"] for r in rows if r.get("iou", 0.0) < 0.1]
    print(f"{len(rows)} objects in {len(folders)} results; {len(false)} match nothing"
          + (f", scoring {min(false):.3f}-{max(false):.3f}" if false else ""))


if __name__ == "__main__":
    main()
