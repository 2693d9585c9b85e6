"""Metrics (DAVIS J and F, MOS / fine-grained / MOS-I protocols), dataset evaluation, benchmarks."""

from movseg.eval.evaluate import evaluate, format_table, write_csv
from movseg.eval.metrics import boundary_f, jaccard, seg2bmap, statistics
from movseg.eval.protocols import evaluate_fine, evaluate_mos, evaluate_mos_i

__all__ = [
    "boundary_f",
    "evaluate",
    "evaluate_fine",
    "evaluate_mos",
    "evaluate_mos_i",
    "format_table",
    "jaccard",
    "seg2bmap",
    "statistics",
    "write_csv",
]
