"""Copy a training run's best checkpoint into the package, with its provenance next to it.

    python tools/ship_weights.py runs/motion --command "movseg train --config configs/motion.json --davis-root ../shared/data/davis2016"

Writes src/movseg/motion/weights/track_transformer.safetensors and
track_transformer.json (the command, the training config with its data
seeds, the best validation scores, the file's SHA-256). The record is meant for other
machines: the run's output and cache folders (local, and without effect on the weights: the
cache's tracker settings are recorded as ``tracker_options``) are left out, and the DAVIS
root is written relative to the repository when it lies beside or inside it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
from pathlib import Path

from movseg import __version__
from movseg.motion.predict import DEFAULT_WEIGHTS, load_model

REPO = Path(__file__).resolve().parent.parent
LOCAL = ("out", "cache")  # where the run wrote and read its samples: meaningless elsewhere


def portable(path: str | None) -> str | None:
    """``path`` relative to the repository when it lies inside it or beside it (``../shared/...``),
    else unchanged."""
    if path is None or not Path(path).is_absolute():
        return path
    rel = os.path.relpath(path, REPO)
    return path if rel.startswith(os.pardir + os.sep + os.pardir) else rel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="run folder written by `movseg train`")
    ap.add_argument("--command", required=True, help="the exact command that produced the run")
    args = ap.parse_args()
    run = Path(args.run)
    model = load_model(run / "best.safetensors")  # refuses anything that is not a valid checkpoint
    DEFAULT_WEIGHTS.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run / "best.safetensors", DEFAULT_WEIGHTS)
    cfg = {k: v for k, v in json.loads((run / "config.json").read_text()).items() if k not in LOCAL}
    cfg["davis_root"] = portable(cfg.get("davis_root"))
    info = {
        "command": args.command,
        "movseg_version": __version__,
        "model": model.config.to_dict(),
        "training": cfg,
        "data": {"synthetic": {"preset": cfg.get("synth_preset", "train"), "seed": cfg["synth_seed"],
                               "scenes": cfg["synth_scenes"]},
                 "validation": {"preset": "train", "seed": cfg["val_seed"], "scenes": cfg["val_scenes"]},
                 "davis_root": cfg["davis_root"], "davis_holdout": cfg["davis_holdout"]},
        "validation": json.loads((run / "best.json").read_text()),
        "sha256": hashlib.sha256(DEFAULT_WEIGHTS.read_bytes()).hexdigest(),
        "bytes": DEFAULT_WEIGHTS.stat().st_size,
    }
    DEFAULT_WEIGHTS.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"{DEFAULT_WEIGHTS} ({info['bytes'] / 1e6:.1f} MB), validation F1 {info['validation']['f1']:.3f}")


if __name__ == "__main__":
    main()
