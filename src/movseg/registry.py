"""Backends selectable by name (trackers, segmenters, ...)."""

from __future__ import annotations

from movseg.errors import MovsegError


class Registry(dict):
    """``name → class``: ``@registry.register("name")`` on a class, ``registry.build("name", **config)``."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind  # what the backends are, for error messages ("tracker")

    def register(self, name: str):
        """Class decorator: make the class selectable as ``name``."""

        def wrap(cls):
            self[name] = cls
            return cls

        return wrap

    def build(self, name: str, **config):
        """Instantiate the backend registered as ``name``; ``config`` fills its config dataclass."""
        if name not in self:
            raise MovsegError(f"unknown {self.kind} {name!r}: choose one of {', '.join(sorted(self))}")
        return self[name](**config)
