"""Shot changes: no track may run across a cut between two shots.

Across a cut, optical flow matches unrelated frames, and a few points of every tracker pass its checks by
chance: on DAVIS `bear` followed by `rhino`, 206 tracks ran on across the cut, and the bear and the rhino
became one object. But a cut is plain to see in the tracks themselves: of the points visible on one side,
almost none are visible on the other (5 % there, against at least 51 % between any two frames of the DAVIS
dev sequences, in `mallard-fly`'s fastest turn). :func:`find_cuts` finds such steps; :func:`split_at_cuts`
ends every track at them, on the side of its query frame, so whatever follows sees each shot's tracks apart.
"""

from __future__ import annotations

import numpy as np

from movseg.types import Tracks

MIN_SURVIVAL = 0.2  # a step where fewer of the visible points stay visible, both ways, is a cut
MIN_POINTS = 20  # ... judged only where at least this many points are visible on either side


def find_cuts(visible: np.ndarray, min_survival: float = MIN_SURVIVAL, min_points: int = MIN_POINTS) -> list[int]:
    """Frames ``t`` such that a shot ends at ``t - 1`` and the next begins at ``t``, from ``visible``
    ``bool (N, T)``: fewer than ``min_survival`` of the points visible at ``t - 1`` are visible at ``t``, and
    of those at ``t`` at ``t - 1``."""
    before, after = visible[:, :-1], visible[:, 1:]
    kept = (before & after).sum(0)
    n0, n1 = before.sum(0), after.sum(0)
    cut = (n0 >= min_points) & (n1 >= min_points) & (kept < min_survival * n0) & (kept < min_survival * n1)
    return [int(t) + 1 for t in np.flatnonzero(cut)]


def split_at_cuts(tracks: Tracks, cuts: list[int]) -> Tracks:
    """``tracks`` with each track visible only within the shot of its query frame (``cuts`` as
    :func:`find_cuts` gives them); outside it, invisible with confidence 0."""
    if not cuts:
        return tracks
    edges = np.array([0, *cuts, tracks.num_frames])
    shot = np.searchsorted(edges, tracks.query_frame, side="right") - 1  # (N,) the shot of each query
    frame_shot = np.searchsorted(edges, np.arange(tracks.num_frames), side="right") - 1  # (T,)
    inside = frame_shot[None, :] == shot[:, None]
    return Tracks(tracks.xy, tracks.visible & inside, np.where(inside, tracks.confidence, 0).astype(np.float32),
                  tracks.query_frame)
