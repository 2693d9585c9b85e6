"""Evaluate folders of predicted masks against ground truth, DAVIS style.

Both roots hold ``<sequence>/<frame>.png`` (a ``<sequence>/masks/`` subfolder,
as ``movseg segment`` and ``movseg synth`` write, is found too). A DAVIS root
(``Annotations/480p/``) may be given as the ground-truth root directly.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from movseg.errors import MovsegError
from movseg.eval.metrics import statistics
from movseg.eval.protocols import MosIResult, evaluate_fine, evaluate_mos, evaluate_mos_i
from movseg.io.masks import mask_files, read_mask
from movseg.types import mask_from_intervals

PROTOCOLS = ("mos", "fine", "mos-i")


def resolve_gt_root(gt_root: str | Path) -> Path:
    """``ROOT/Annotations/480p`` for a DAVIS root, else ``ROOT`` itself."""
    root = Path(gt_root)
    if not root.is_dir():
        raise MovsegError(f"ground-truth folder not found: {root}")
    davis = root / "Annotations" / "480p"
    return davis if davis.is_dir() else root


def list_sequences(gt_root: Path) -> list[str]:
    """Sub-folders of the GT root that hold masks, sorted."""
    return sorted(d.name for d in gt_root.iterdir() if d.is_dir() and not d.name.startswith(".") and mask_files(d))


def read_sequence_list(names: str | None = None, file: str | Path | None = None) -> list[str] | None:
    """Sequences from ``a,b,c`` or a file with one name per line (``#`` comments allowed)."""
    if names:
        return [n.strip() for n in names.split(",") if n.strip()]
    if file:
        p = Path(file)
        if not p.is_file():
            raise MovsegError(f"sequences file not found: {p}")
        return [ln.split("#")[0].strip() for ln in p.read_text().splitlines() if ln.split("#")[0].strip()]
    return None


def read_motion_states(path: Path, num_frames: int) -> np.ndarray | None:
    """``bool (K, T)`` from a ``meta.json``/``result.json`` with ``objects: [{"id", "moving": [[t0, t1], ...]}]``."""
    if not path.is_file():
        return None
    try:
        objects = json.loads(path.read_text()).get("objects", [])
    except (json.JSONDecodeError, AttributeError) as e:
        raise MovsegError(f"cannot read motion states from {path}: {e}") from None
    ids = [int(o["id"]) for o in objects if "moving" in o]
    states = np.ones((max(ids, default=0), num_frames), bool)
    for o in objects:
        if "moving" in o:
            states[int(o["id"]) - 1] = mask_from_intervals(o["moving"], num_frames)
    return states


class MaskFrames(Sequence):
    """Label masks read from their files when indexed, ``uint8 (H, W)`` each: a sequence is never held whole.
    A ``None`` file reads as an empty frame; a mask of another size than ``shape`` is an error."""

    def __init__(self, files: list[Path | None], shape: tuple[int, int], what: str = "prediction"):
        self.files, self.shape, self.what = files, shape, what

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, t: int) -> np.ndarray:
        if self.files[t] is None:
            return np.zeros(self.shape, np.uint8)
        m = read_mask(self.files[t])
        if m.shape != self.shape:
            raise MovsegError(f"{self.what} {self.files[t]} is {m.shape[1]}x{m.shape[0]} but ground truth is "
                              f"{self.shape[1]}x{self.shape[0]} (nothing is resized silently)")
        return m


def load_pair(
    pred_dir: Path, gt_dir: Path, missing_as_empty: bool, max_frames: int | None = None
) -> tuple[list[str], MaskFrames, MaskFrames]:
    """One sequence: (frame names, GT frames, predicted frames), the frames read when indexed.

    ``max_frames`` keeps only the first GT frames (for runs on truncated videos).
    """
    gt_files = mask_files(gt_dir)[:max_frames]
    if not gt_files:
        raise MovsegError(f"no ground-truth masks in {gt_dir}")
    shape = read_mask(gt_files[0]).shape
    pred_masks = pred_dir / "masks" if (pred_dir / "masks").is_dir() else pred_dir
    if not pred_masks.is_dir() and not missing_as_empty:
        raise MovsegError(f"no prediction for sequence {gt_dir.name}: {pred_dir} does not exist (or pass --missing-as-empty)")
    pred_files: list[Path | None] = []
    for f in gt_files:
        p = pred_masks / f.name
        if not p.is_file() and not missing_as_empty:
            raise MovsegError(f"missing prediction for frame {gt_dir.name}/{f.name}: expected {p} (or pass --missing-as-empty)")
        pred_files.append(p if p.is_file() else None)
    return [f.stem for f in gt_files], MaskFrames(gt_files, shape, "ground truth"), MaskFrames(pred_files, shape)


def evaluate(
    pred_root: str | Path,
    gt_root: str | Path,
    protocol: str = "mos",
    sequences: Iterable[str] | None = None,
    missing_as_empty: bool = False,
    progress: Callable[[str], None] | None = None,
    max_frames: int | None = None,
) -> dict:
    """Evaluate every sequence; returns the JSON-ready result dict.

    For ``mos``/``fine``: ``{"protocol", "sequences": {name: {"J", "F", "JF",
    "frames", "J_recall", "J_decay", "F_recall", "F_decay", "objects"}},
    "mean": {...}}``, values in [0, 1]. The mean is over objects (one per
    sequence for MOS), as the DAVIS toolkit's global mean.

    For ``mos-i``: ``{"protocol", "sequences": {name: {"mtIoU", "J_mov",
    "FP", "frames"}}, "mean": {"mtIoU", "J_mov", "FP"}}``. GT motion states
    come from ``<gt>/<seq>/meta.json``, predicted ones from
    ``<pred>/<seq>/result.json`` (objects with ``moving`` intervals); without
    them every object counts as moving wherever it is present.
    """
    if protocol not in PROTOCOLS:
        raise MovsegError(f"unknown protocol {protocol!r}: choose one of {', '.join(PROTOCOLS)}")
    gt_root = resolve_gt_root(gt_root)
    pred_root = Path(pred_root)
    if not pred_root.is_dir():
        raise MovsegError(f"prediction folder not found: {pred_root}")
    seqs = list(sequences) if sequences else list_sequences(gt_root)
    if not seqs:
        raise MovsegError(f"no sequences with masks under {gt_root}")
    for s in seqs:
        if not (gt_root / s).is_dir():
            raise MovsegError(f"sequence {s} not found under {gt_root}")
    per_seq: dict[str, dict] = {}
    objects: list[dict] = []
    mos_i: list[MosIResult] = []
    for s in seqs:
        if progress:
            progress(s)
        names, gt, pred = load_pair(pred_root / s, gt_root / s, missing_as_empty, max_frames)
        T = len(names)
        if protocol == "mos-i":
            r = evaluate_mos_i(
                gt,
                read_motion_states(gt_root / s / "meta.json", T),
                pred,
                read_motion_states(pred_root / s / "result.json", T),
            )
            mos_i.append(r)
            per_seq[s] = {"mtIoU": r.mt_iou, "J_mov": _mean(r.j_mov), "FP": r.fp_per_frame, "frames": T}
            continue
        scores = evaluate_mos(gt, pred) if protocol == "mos" else evaluate_fine(gt, pred)
        seq_objects = []
        for sc in scores:
            js, fs = statistics(sc.J), statistics(sc.F)
            seq_objects.append(
                {"object": sc.id, "J": js["mean"], "F": fs["mean"], "J_recall": js["recall"], "J_decay": js["decay"],
                 "F_recall": fs["recall"], "F_decay": fs["decay"]}
            )
        objects += [dict(o, sequence=s) for o in seq_objects]
        entry = {key: _mean([o[key] for o in seq_objects]) for key in ("J", "F", "J_recall", "J_decay", "F_recall", "F_decay")}
        entry["JF"] = (entry["J"] + entry["F"]) / 2
        entry["frames"] = T
        if protocol == "fine":
            entry["objects"] = seq_objects
        per_seq[s] = entry
    if protocol == "mos-i":
        mean = {
            "mtIoU": _mean([r.mt_iou for r in mos_i]),
            "J_mov": _mean([j for r in mos_i for j in r.j_mov]),
            "FP": _mean([r.fp_per_frame for r in mos_i]),
        }
    else:
        mean = {key: _mean([o[key] for o in objects]) for key in ("J", "F", "J_recall", "J_decay", "F_recall", "F_decay")}
        mean["JF"] = (mean["J"] + mean["F"]) / 2
    return {"protocol": protocol, "sequences": per_seq, "mean": mean, "objects": objects}


def _mean(values) -> float:
    values = list(values)
    return float(np.mean(values)) if values else float("nan")


def format_table(result: dict) -> str:
    """Plain-text table: one row per sequence, then the mean (values in percent)."""
    if result["protocol"] == "mos-i":
        cols = [("mtIoU", 100), ("J_mov", 100), ("FP", 1)]
    else:
        cols = [("J", 100), ("F", 100), ("JF", 100)]
    head = ["sequence", *[c if c != "JF" else "J&F" for c, _ in cols], "frames"]
    rows = [[name, *[v[c] * s for c, s in cols], v["frames"]] for name, v in result["sequences"].items()]
    total = sum(v["frames"] for v in result["sequences"].values())
    rows.append(["mean", *[result["mean"][c] * s for c, s in cols], total])
    width = max(12, *(len(r[0]) for r in rows))
    lines = [f"{head[0]:<{width}}" + "".join(f"{h:>9}" for h in head[1:])]
    for i, r in enumerate(rows):
        if i == len(rows) - 1:
            lines.append("-" * len(lines[0]))
        lines.append(f"{r[0]:<{width}}" + "".join(f"{x:>9.2f}" for x in r[1:-1]) + f"{r[-1]:>9d}")
    return "\n".join(lines)


def write_csv(result: dict, folder: str | Path) -> None:
    """DAVIS-toolkit style ``global_results.csv`` and ``per-sequence_results.csv``.

    For mos/fine the columns are the toolkit's (``J&F-Mean, J-Mean, J-Recall,
    J-Decay, F-Mean, F-Recall, F-Decay``; per object ``Sequence, J-Mean,
    F-Mean`` with rows named ``<sequence>_<object>``). For mos-i:
    ``mtIoU, J_mov, FP`` globally and per sequence.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    m = result["mean"]
    with open(folder / "global_results.csv", "w", newline="") as f:
        w = csv.writer(f)
        if result["protocol"] == "mos-i":
            w.writerow(["mtIoU", "J_mov", "FP"])
            w.writerow([f"{m['mtIoU']:.6f}", f"{m['J_mov']:.6f}", f"{m['FP']:.6f}"])
        else:
            w.writerow(["J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay"])
            w.writerow([f"{m[k]:.6f}" for k in ("JF", "J", "J_recall", "J_decay", "F", "F_recall", "F_decay")])
    with open(folder / "per-sequence_results.csv", "w", newline="") as f:
        w = csv.writer(f)
        if result["protocol"] == "mos-i":
            w.writerow(["Sequence", "mtIoU", "J_mov", "FP"])
            for name, v in result["sequences"].items():
                w.writerow([name, f"{v['mtIoU']:.6f}", f"{v['J_mov']:.6f}", f"{v['FP']:.6f}"])
        else:
            w.writerow(["Sequence", "J-Mean", "F-Mean"])
            for o in result["objects"]:
                w.writerow([f"{o['sequence']}_{o['object']}", f"{o['J']:.6f}", f"{o['F']:.6f}"])
