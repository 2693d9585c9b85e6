"""Copy a training run's best checkpoint into the package, with its provenance next to it.

    python tools/ship_weights.py runs/motion --command "movseg train --config configs/motion.json --davis-root ../shared/data/davis2016"

Writes src/movseg/motion/weights/track_transformer.safetensors and
track_transformer.json (the command, the training config with its data
seeds, the best validation scores, the file's SHA-256). The record is meant for other
machines: the run's output and cache folders (local, and without effect on the weights: the
cache's tracker settings are recorded as ``tracker_options``) are left out, and the DAVIS
root is written relative to the repository when it lies beside or inside it.

A run's checkpoint carries no grouping threshold: ``benchmarks/choose_threshold.py --write`` adds it
after shipping. Shipping the same weights again (to refresh the record) keeps the threshold and its
selection record; shipping other weights over weights that have one is refused unless
``--drop-threshold`` says that is meant.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import torch

from movseg import __version__
from movseg.motion.predict import DEFAULT_WEIGHTS, load_model, save_model

REPO = Path(__file__).resolve().parent.parent
LOCAL = ("out", "cache")  # where the run wrote and read its samples: meaningless elsewhere


def portable(path: str | None) -> str | None:
    """``path`` relative to the repository when it lies inside it or beside it (``../shared/...``),
    else unchanged."""
    if path is None or not Path(path).is_absolute():
        return path
    rel = os.path.relpath(path, REPO)
    return path if rel.startswith(os.pardir + os.sep + os.pardir) else rel


THRESHOLD_FIELDS = ("grouping_threshold", "threshold_selection")  # written by choose_threshold.py --write


def same_weights(a, b) -> bool:
    """Two track transformers with the same config and identical tensors."""
    sa, sb = a.state_dict(), b.state_dict()
    return (a.config.to_dict() == b.config.to_dict() and sa.keys() == sb.keys()
            and all(torch.equal(sa[k], sb[k]) for k in sa))


def ship(run: Path, command: str, dest: Path = DEFAULT_WEIGHTS, drop_threshold: bool = False) -> dict:
    """Write ``run``'s best checkpoint to ``dest`` and its record to ``dest`` with ``.json``; returns the record.
    Raises ``SystemExit`` (one line) instead of dropping the threshold of other weights already at ``dest``."""
    model = load_model(run / "best.safetensors")  # refuses anything that is not a valid checkpoint
    old = load_model(dest) if dest.exists() else None
    carried = {}
    if old is not None and old.threshold is not None:
        if same_weights(old, model):
            model.threshold = old.threshold
            record = dest.with_suffix(".json")
            if record.exists():
                carried = {k: v for k, v in json.loads(record.read_text()).items() if k in THRESHOLD_FIELDS}
        elif not drop_threshold:
            raise SystemExit(f"{dest} holds other weights with grouping threshold {old.threshold:g}, and {run} has none: "
                             "pass --drop-threshold to replace them, then run benchmarks/choose_threshold.py --write")
    dest.parent.mkdir(parents=True, exist_ok=True)
    save_model(model, dest)
    cfg = {k: v for k, v in json.loads((run / "config.json").read_text()).items() if k not in LOCAL}
    cfg["davis_root"] = portable(cfg.get("davis_root"))
    info = {
        "command": command,
        "movseg_version": __version__,
        "model": model.config.to_dict(),
        "training": cfg,
        "data": {"synthetic": {"preset": cfg.get("synth_preset", "train"), "seed": cfg["synth_seed"],
                               "scenes": cfg["synth_scenes"]},
                 "validation": {"preset": "train", "seed": cfg["val_seed"], "scenes": cfg["val_scenes"]},
                 "davis_root": cfg["davis_root"], "davis_holdout": cfg["davis_holdout"]},
        "validation": json.loads((run / "best.json").read_text()),
        "sha256": hashlib.sha256(dest.read_bytes()).hexdigest(),
        "bytes": dest.stat().st_size,
        **carried,
    }
    dest.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="run folder written by `movseg train`")
    ap.add_argument("--command", required=True, help="the exact command that produced the run")
    ap.add_argument("--dest", type=Path, default=DEFAULT_WEIGHTS, help="where to write (default: the package's weights)")
    ap.add_argument("--drop-threshold", action="store_true",
                    help="replace other weights that carry a grouping threshold (choose one again afterwards)")
    args = ap.parse_args()
    info = ship(Path(args.run), args.command, args.dest, args.drop_threshold)
    threshold = info.get("grouping_threshold")
    print(f"{args.dest} ({info['bytes'] / 1e6:.1f} MB), validation F1 {info['validation']['f1']:.3f}, "
          + (f"grouping threshold {threshold:g} kept" if threshold is not None
             else "no grouping threshold: run benchmarks/choose_threshold.py --write"), file=sys.stderr)


if __name__ == "__main__":
    main()
