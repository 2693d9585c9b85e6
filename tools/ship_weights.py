"""Copy a training run's best checkpoint into the package, with its provenance next to it.

    python tools/ship_weights.py runs/motion --command "movseg train --config configs/motion.json --davis-root ../shared/data/davis2016"

Writes src/movseg/motion/weights/track_transformer.safetensors and
track_transformer.json (the command, the training config with its data
seeds, the best validation scores, the file's SHA-256). The record is meant for other
machines: the run's output and cache folders (local, and without effect on the weights: the
cache's tracker settings are recorded as ``tracker_options``) are left out, and the DAVIS
root is written relative to the repository when it lies beside or inside it.

A run's checkpoint carries no grouping threshold: ``benchmarks/choose_threshold.py --write`` adds it
after shipping, and ``--small-min-score X --why TEXT`` (without a run) stores the masks stage's
small-object gate chosen for the shipped weights. Shipping the same weights again (to refresh the
record) keeps both and their selection records; shipping other weights over weights that have a
threshold is refused unless ``--drop-threshold`` says that is meant (the gate goes with it).

    python tools/ship_weights.py --small-min-score 0.85 --why "docs/benchmarks.md, 'Small objects, only when sure'"
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
from movseg.motion.predict import DEFAULT_WEIGHTS, load_model, save_model, update_record

REPO = Path(__file__).resolve().parent.parent
LOCAL = ("out", "cache")  # where the run wrote and read its samples: meaningless elsewhere


def portable(path: str | None) -> str | None:
    """``path`` relative to the repository when it lies inside it or beside it (``../shared/...``),
    else unchanged."""
    if path is None or not Path(path).is_absolute():
        return path
    rel = os.path.relpath(path, REPO)
    return path if rel.startswith(os.pardir + os.sep + os.pardir) else rel


# written by choose_threshold.py --write, and by set_small_min_score
THRESHOLD_FIELDS = ("grouping_threshold", "threshold_selection", "small_min_score", "small_min_score_selection")


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
            model.threshold, model.small_min_score = old.threshold, old.small_min_score
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


def set_small_min_score(dest: Path, score: float, why: str, command: str) -> None:
    """Store the masks stage's small-object gate (``TracksSegmenterConfig.small_min_score``, a mean P, so it
    is calibrated on these weights) in ``dest`` and in its ``.json`` record, with why it was chosen."""
    if not 0 < score < 1:
        raise SystemExit(f"--small-min-score must lie in (0, 1), got {score}")
    model = load_model(dest)
    model.small_min_score = score
    save_model(model, dest)
    update_record(dest, small_min_score=score, small_min_score_selection={"command": command, "rule": why})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", nargs="?", help="run folder written by `movseg train`")
    ap.add_argument("--command", help="the exact command that produced the run")
    ap.add_argument("--dest", type=Path, default=DEFAULT_WEIGHTS, help="where to write (default: the package's weights)")
    ap.add_argument("--drop-threshold", action="store_true",
                    help="replace other weights that carry a grouping threshold (choose one again afterwards)")
    ap.add_argument("--small-min-score", type=float, help="instead of shipping a run: store the masks stage's "
                    "small-object gate, chosen for the weights at --dest")
    ap.add_argument("--why", help="with --small-min-score: how it was chosen (kept in the record)")
    args = ap.parse_args()
    if args.small_min_score is not None:
        if args.run or not args.why:
            ap.error("--small-min-score takes no run, and needs --why")
        command = f"python tools/ship_weights.py --small-min-score {args.small_min_score:g} --why RULE"
        set_small_min_score(args.dest, args.small_min_score, args.why, command)
        print(f"{args.dest}: small-object gate {args.small_min_score:g}", file=sys.stderr)
        return
    if not args.run or not args.command:
        ap.error("give a run folder and --command (or --small-min-score)")
    info = ship(Path(args.run), args.command, args.dest, args.drop_threshold)
    threshold = info.get("grouping_threshold")
    print(f"{args.dest} ({info['bytes'] / 1e6:.1f} MB), validation F1 {info['validation']['f1']:.3f}, "
          + (f"grouping threshold {threshold:g} kept" if threshold is not None
             else "no grouping threshold: run benchmarks/choose_threshold.py --write"), file=sys.stderr)


if __name__ == "__main__":
    main()
