"""Long-range point tracking: ``build_tracker(name)(video, queries) -> Tracks``.

Registered trackers: ``flow`` (default, weight-free DIS chaining with checks),
``dis-naive`` (DIS chaining without checks) and ``lk`` (pyramidal
Lucas–Kanade chaining), the last two as baselines.
"""

from movseg.tracking import baselines as _baselines  # noqa: F401  (registers lk, dis-naive)
from movseg.tracking.base import TRACKERS, Tracker, build_tracker, make_queries, register
from movseg.tracking.cuts import find_cuts, split_at_cuts
from movseg.tracking.flow_tracker import FlowTracker, FlowTrackerConfig

__all__ = ["TRACKERS", "FlowTracker", "FlowTrackerConfig", "Tracker", "build_tracker", "find_cuts", "make_queries",
           "register", "split_at_cuts"]


def track_shots(video, tracker: str = "flow", queries=None, grid_size: int = 10, step: int = 8,
                max_tracks: int | None = None, **config):
    """Track a :class:`~movseg.types.Video`: the given ``(N, 3)`` ``(t, x, y)`` queries, or a
    SegAnyMo-style grid (``grid_size`` px every ``step`` frames, at most ``max_tracks``). No track runs
    across a shot change (:mod:`movseg.tracking.cuts`). Returns ``(tracks, cuts)``: the frames where a new
    shot begins."""
    if queries is None:
        queries = make_queries(video.num_frames, video.height, video.width, grid_size, step, max_tracks)
    tracks = build_tracker(tracker, **config)(video, queries)
    cuts = find_cuts(tracks.visible)
    return split_at_cuts(tracks, cuts), cuts


def track_video(video, tracker: str = "flow", queries=None, grid_size: int = 10, step: int = 8,
                max_tracks: int | None = None, **config):
    """The tracks of :func:`track_shots`."""
    return track_shots(video, tracker, queries, grid_size, step, max_tracks, **config)[0]


__all__ += ["track_shots", "track_video"]
