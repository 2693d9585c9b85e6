"""Ablations of the track transformer (in the spirit of SegAnyMo Table 3), each trained with the same
data, seed and step budget, then scored on the synthetic test scenes and the held-out DAVIS sequences.

    python benchmarks/motion_ablations.py --config configs/motion.json --steps 1500 --out runs/ablations \
        --davis ../shared/data/davis2016 --json runs/ablations.json

Variants: full, w/o frequency encoding, w/o ST-ATT (attention along time only), w/o MSDE (appearance
in the encoder input), w/o appearance cue, w/o geometric cue.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from movseg.train import load_config, train
from movseg.train.bench import bench_motion

VARIANTS = {
    "full": {},
    "w/o PE": {"freqs": 0},
    "w/o ST-ATT": {"st_attention": False},
    "w/o MSDE": {"msde": False},
    "w/o appearance": {"appearance_dim": 0},
    "w/o geometric": {"geometric": False},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--out", default="runs/ablations")
    ap.add_argument("--davis", help="DAVIS root for the held-out scores")
    ap.add_argument("--only", help="comma-separated variant names")
    ap.add_argument("--json", required=True)
    args = ap.parse_args()
    base = load_config(args.config)
    path = Path(args.json)
    results = json.loads(path.read_text()) if path.exists() else {}
    names = args.only.split(",") if args.only else list(VARIANTS)
    for name in names:
        slug = name.replace("/", "").replace(" ", "-")
        cfg = replace(base, out=str(Path(args.out) / slug), steps=args.steps, val_every=max(1, args.steps // 3),
                      model=replace(base.model, **VARIANTS[name]))
        best = train(cfg, progress=False)
        scores = bench_motion(cfg.cache, Path(cfg.out) / "best.safetensors", davis_root=args.davis, progress=False)
        results[name] = {"validation": best, **{k: v["transformer"] for k, v in scores.items()}}
        path.write_text(json.dumps(results, indent=2))
        row = "  ".join(f"{k} F1 {v['transformer']['f1']:.3f} AUC {v['transformer']['auc']:.3f}" for k, v in scores.items())
        print(f"{name:<16} val F1 {best['f1']:.3f}  {row}", flush=True)


if __name__ == "__main__":
    main()
