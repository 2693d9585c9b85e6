"""Baseline trackers for comparison tables: naive DIS chaining and pyramidal Lucas–Kanade."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from movseg.flow import to_gray
from movseg.tracking.base import check_queries, inside_frame, register, rescale_xy, working_size
from movseg.tracking.flow_tracker import FlowTracker
from movseg.types import Tracks, Video


@register("dis-naive")
class NaiveDISTracker(FlowTracker):
    """DIS flow chaining with no forward–backward or appearance check and no long links: a track is lost
    only when it leaves the frame."""

    def __init__(self, **config):
        super().__init__(**{"fb_check": False, "link": 0, **config})


@dataclass
class LKConfig:
    work_side: int = 480  # longest image side (px)
    window: int = 21  # LK window (px)
    levels: int = 3  # pyramid levels


@register("lk")
class LKTracker:
    """Pyramidal Lucas–Kanade (OpenCV) chained frame to frame, forward and backward; a track
    ends when LK reports failure or it leaves the frame."""

    def __init__(self, **config):
        self.cfg = LKConfig(**config)

    def __call__(self, video: Video, queries: np.ndarray) -> Tracks:
        q = check_queries(queries, video.num_frames)
        T, H, W = video.num_frames, video.height, video.width
        size, sx, sy = working_size(H, W, self.cfg.work_side)
        gray = [cv2.resize(to_gray(f), size, interpolation=cv2.INTER_AREA) for f in video.frames]
        qt = np.round(q[:, 0]).astype(int)
        start = rescale_xy(q[:, 1:], sx, sy)
        xy = np.repeat(start[:, None], T, 1)
        vis = np.zeros((len(q), T), bool)
        params = dict(winSize=(self.cfg.window, self.cfg.window), maxLevel=self.cfg.levels,
                      criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))
        for direction in (1, -1):
            pos = start.copy()
            alive = np.zeros(len(q), bool)
            frames = range(T) if direction == 1 else range(T - 1, -1, -1)
            for t in frames:
                new = qt == t
                alive[new] = inside_frame(pos[new], *size)
                started = (qt <= t) if direction == 1 else (qt >= t)
                xy[started, t] = pos[started]
                vis[:, t] |= alive & started
                nxt = t + direction
                if not 0 <= nxt < T or not alive.any():
                    continue
                idx = np.flatnonzero(alive)
                p1, st, _ = cv2.calcOpticalFlowPyrLK(gray[t], gray[nxt], pos[idx].reshape(-1, 1, 2), None, **params)
                p1 = p1.reshape(-1, 2)
                ok = (st.ravel() == 1) & inside_frame(p1, *size)
                pos[idx[ok]] = p1[ok]
                alive[idx[~ok]] = False
        return Tracks(rescale_xy(xy, 1 / sx, 1 / sy), vis, vis.astype(np.float32), qt.astype(np.int32))
