"""Which torch device movseg's models run on: ``auto`` takes the first of cuda, mps, cpu that torch can use."""

from __future__ import annotations

from movseg.errors import MovsegError

DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(name: str = "auto") -> str:
    """``"cpu"``, ``"cuda"`` or ``"mps"`` for ``name`` (one of :data:`DEVICES`, or ``cuda:N``); a
    :class:`MovsegError` in one line when torch cannot use the device asked for."""
    import torch

    kind, _, index = str(name).partition(":")
    if kind not in DEVICES or (index and (kind != "cuda" or not index.isdigit())):
        raise MovsegError(f"unknown device {name!r}: choose one of {', '.join(DEVICES)} (or cuda:N)")
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if kind == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if mps else "cpu"
    if kind == "cuda" and not torch.cuda.is_available():
        raise MovsegError(f"--device {name}: torch sees no CUDA GPU here; use --device cpu (or auto)")
    if kind == "cuda" and index and int(index) >= torch.cuda.device_count():
        raise MovsegError(f"--device {name}: torch sees {torch.cuda.device_count()} CUDA GPU(s); pick one of "
                          f"cuda:0..cuda:{torch.cuda.device_count() - 1}")
    if kind == "mps" and not mps:
        raise MovsegError(f"--device {name}: torch cannot use Apple's MPS here; use --device cpu (or auto)")
    return str(name)
