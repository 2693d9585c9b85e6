"""Statistics of a synthetic scene set written by ``movseg synth`` (prints a table).

    python benchmarks/synth_stats.py ROOT [--scenes 500]

Reports objects per scene, moving-pixel fraction, objects with stop/start
intervals, occluded track points, camera speed, parallax (how far scenery
tracks are from the best homography between the first and last frames) and
track/instance consistency.
"""

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from movseg.io import read_mask


def scene_stats(d: Path) -> dict:
    meta = json.loads((d / "meta.json").read_text())
    tr = np.load(d / "tracks.npz")
    xy, vis, obj = tr["xy"], tr["visible"], tr["object_id"]
    H, W = meta["size"]
    T = xy.shape[1]
    masks = np.stack([read_mask(d / "masks" / f"{t:05d}.png") for t in range(T)])
    inst = np.stack([read_mask(d / "instances" / f"{t:05d}.png") for t in range(T)])
    moving_objs = [o for o in meta["objects"] if o["moving"]]
    changes = [o for o in moving_objs if not (len(o["moving"]) == 1 and o["moving"][0] == [0, T - 1])]
    inside = (xy[..., 0] > -0.5) & (xy[..., 0] < W - 0.5) & (xy[..., 1] > -0.5) & (xy[..., 1] < H - 0.5)
    t_idx = np.broadcast_to(np.arange(T), vis.shape)[vis]
    on = inst[t_idx, np.round(xy[..., 1][vis]).astype(int), np.round(xy[..., 0][vis]).astype(int)]
    consistent = on == np.broadcast_to(obj[:, None], vis.shape)[vis]
    par = None
    both = vis[:, 0] & vis[:, -1] & (obj == 0)
    if meta["camera"]["speed_m_per_frame"] >= 0.03 and both.sum() >= 20:
        a, b = xy[both, 0], xy[both, -1]
        Hm, _ = cv2.findHomography(a, b, cv2.RANSAC, 1.0)
        if Hm is not None:
            r = np.linalg.norm(cv2.perspectiveTransform(a[:, None], Hm)[:, 0] - b, axis=1)
            par = (float(np.median(r)), float(np.mean(r)), float(np.mean(r > 1.0)))
    return {
        "objects": len(meta["objects"]),
        "moving_objects": len(moving_objs),
        "changes": len(changes),
        "moving_px": float((masks > 0).mean()),
        "occluded": float((inside & ~vis).sum() / max(inside.sum(), 1)),
        "speed": meta["camera"]["speed_m_per_frame"],
        "rot": meta["camera"]["rotation_deg_per_frame"],
        "consistent": (int(consistent.sum()), int(consistent.size)),
        "parallax": par,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root")
    ap.add_argument("--scenes", type=int, default=500)
    args = ap.parse_args()
    dirs = sorted(p for p in Path(args.root).iterdir() if (p / "meta.json").is_file())[: args.scenes]
    S = [scene_stats(d) for d in dirs]
    objs = np.array([s["objects"] for s in S])
    mov = np.array([s["moving_objects"] for s in S])
    par = [s["parallax"] for s in S if s["parallax"] is not None]
    cons = np.array([s["consistent"] for s in S]).sum(0)
    speed, rot = np.array([s["speed"] for s in S]), np.array([s["rot"] for s in S])
    pct = lambda v: " / ".join(f"{x:.3f}" for x in np.percentile(v, [10, 50, 90]))
    print(f"scenes                                   {len(S)}")
    print(f"objects per scene (all / moving), mean   {objs.mean():.2f} / {mov.mean():.2f}")
    print(f"scenes without moving objects            {np.mean(mov == 0):.1%}")
    print(f"moving objects per scene, histogram      {np.bincount(mov, minlength=8)[:8].tolist()}")
    print(f"moving-pixel fraction, mean              {np.mean([s['moving_px'] for s in S]):.1%}")
    print(f"moving objects with stop/start intervals {sum(s['changes'] for s in S) / max(mov.sum(), 1):.1%}")
    print(f"occluded track points (in frame)         {np.mean([s['occluded'] for s in S]):.1%}")
    print(f"camera translation m/frame p10/p50/p90   {pct(speed)}")
    print(f"camera rotation deg/frame p10/p50/p90    {pct(rot)}")
    if par:
        par = np.array(par)
        print(f"parallax, scenes with camera translation {len(par)}: median residual to homography {np.median(par[:, 0]):.2f} px "
              f"(mean {np.median(par[:, 1]):.2f} px); scenes with >10% scenery points >1 px off: {np.mean(par[:, 2] > 0.1):.1%}")
    print(f"track/instance consistency               {cons[0] / cons[1]:.4%} of {cons[1]} visible points")


if __name__ == "__main__":
    main()
