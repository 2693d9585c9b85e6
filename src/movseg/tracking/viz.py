"""Drawing tracks: coloured trails over the frames (kept out of the tracker code)."""

from __future__ import annotations

from typing import Iterator

import cv2
import numpy as np

from movseg.types import Tracks, Video


def track_colours(tracks: Tracks) -> np.ndarray:
    """``uint8 (N, 3)`` RGB: hue from the query position, so neighbouring tracks look alike."""
    n = np.arange(tracks.num_tracks)
    q = tracks.xy[n, tracks.query_frame]
    h = (q[:, 0] / max(float(np.ptp(q[:, 0])), 1) * 150 + q[:, 1] / max(float(np.ptp(q[:, 1])), 1) * 30) % 180
    hsv = np.stack([h, np.full_like(h, 230), np.full_like(h, 255)], 1).astype(np.uint8)[None]
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0]


def object_colours(object_id: np.ndarray) -> np.ndarray:
    """``uint8 (N, 3)`` RGB: each track in its object's colour, as in the masks and the overlay (the DAVIS
    palette), and grey where ``object_id`` is 0 (on no object)."""
    from movseg.io.masks import DAVIS_PALETTE

    colours = DAVIS_PALETTE[np.clip(object_id, 0, 255)].copy()
    colours[object_id == 0] = 150
    return colours


def draw_tracks(video: Video, tracks: Tracks, tail: int = 8, max_tracks: int = 1500,
                object_id: np.ndarray | None = None) -> Iterator[np.ndarray]:
    """Frames ``uint8 (H, W, 3)`` with each visible track's last ``tail`` positions as a trail, for at most
    ``max_tracks`` tracks. With ``object_id`` ``(N,)``, tracks take their object's colour
    (:func:`object_colours`); when there are too many, the objects' tracks are kept first (the static
    ones keep a third of ``max_tracks``), and they are drawn on top."""
    N = tracks.num_tracks
    rng = np.random.default_rng(0)
    if object_id is None:
        keep = np.sort(rng.choice(N, min(N, max_tracks), replace=False)) if N else np.zeros(0, int)
        colours = track_colours(tracks)[keep]
    else:
        on, off = np.flatnonzero(object_id > 0), np.flatnonzero(object_id == 0)
        room = max_tracks - min(len(off), max_tracks // 3)  # a third at least for the static tracks, if there are any
        on = np.sort(rng.choice(on, min(len(on), room), replace=False))
        off = np.sort(rng.choice(off, min(len(off), max_tracks - len(on)), replace=False))
        keep = np.concatenate([off, on])  # drawn in this order: objects on top
        colours = object_colours(object_id[keep])
    xy, vis = tracks.xy[keep], tracks.visible[keep]
    shift = 4  # sub-pixel drawing
    for t, frame in enumerate(video.frames):
        img = (frame * 0.6).astype(np.uint8)
        for k in range(len(keep)):
            if not vis[k, t]:
                continue
            t0 = max(0, t - tail)
            seg = xy[k, t0 : t + 1][vis[k, t0 : t + 1]]
            col = tuple(int(c) for c in colours[k])
            pts = np.round(seg * (1 << shift)).astype(np.int32)
            if len(pts) > 1:
                cv2.polylines(img, [pts], False, col, 1, cv2.LINE_AA, shift)
            cv2.circle(img, tuple(pts[-1]), 2 << shift, col, -1, cv2.LINE_AA, shift)
        yield img
