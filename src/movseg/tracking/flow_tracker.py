"""The default, weight-free tracker: dense DIS optical flow chained along each track.

Per frame pair, forward and backward flow are computed once at a working
resolution; every track follows the forward flow, sampled bilinearly at its
sub-pixel position. A step is trusted when

* forward–backward consistency holds, ``|f + b|² < 0.01 (|f|² + |b|²) + 1``
  (after Sundaram et al., 2010), with ``b`` sampled at the arrival point;
* the point stays inside the frame;
* the local appearance still matches: the normalised cross-correlation of a
  small patch with the track's template (from its last trusted frames) is
  above ``ncc_lost``.

A track that fails is marked occluded and, instead of riding on the
occluder's flow, follows the camera motion (a RANSAC homography fitted to the
flow). For ``max_gap`` frames it is searched for around that prediction by
template matching; when found (NCC ≥ ``reattach_ncc``) it becomes visible
again.

Long links (``link`` = 4) limit drift and find lost points on moving objects too: the flow
between frames a and a + 4 (a = 0, 4, 8, ...) is computed as well. At a + 4, a point that was
visible at a moves to where that link takes it when the link is forward–backward consistent and
lands within ``link_snap`` px of the chained position (the chained positions in between share
the correction); a point lost since a is found there again when its patch still matches (or is
flat). Each query is tracked forward and backward from its query frame.
Confidence is a logistic function of the step's consistency error, the
patch correlation and the track's age (coefficients in ``CONFIDENCE``,
fitted on synthetic ground truth by ``benchmarks/calibrate_confidence.py``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from movseg.flow import DISFlow, fit_homography, to_gray
from movseg.sampling import sample_bilinear
from movseg.tracking.base import check_queries, inside_frame, register, rescale_xy, working_size
from movseg.types import Tracks, Video

# logistic confidence: w · [1, fb_ratio, ncc, log1p(age), reattached], fitted by
#   movseg synth /tmp/train40 --scenes 40 --seed 0 --workers 2
#   python benchmarks/calibrate_confidence.py /tmp/train40 --scenes 40
# (correct = within 4 px at 256x256) on the scenes of an earlier generator version. On the
# current scenes the same command refits to held-back ROC-AUC 0.742, these weights score 0.753,
# so they stay.
CONFIDENCE = np.array([4.312, -2.148, 0.585, -0.924, -2.152], np.float32)


@dataclass
class FlowTrackerConfig:
    preset: str = "medium"  # DIS preset: ultrafast | fast | medium
    # finest pyramid level of the flow (None: the preset's, 1 = half the working size for medium; 0 = full size:
    # small objects' tracks keep up with them, docs/tracking.md, "A small object behind a pillar")
    finest_scale: int | None = None
    work_side: int = 480  # longest image side at which flow is computed (px)
    fb_check: bool = True  # forward-backward consistency check (off = naive chaining)
    fb_alpha: float = 0.01  # a step is consistent when |f + b|^2 < fb_alpha (|f|^2 + |b|^2) + fb_beta
    fb_beta: float = 1.0  # (working-resolution px^2)
    ncc_lost: float = 0.3  # a step whose patch correlation with the template falls below this is lost...
    min_texture: float = 4.0  # ...if both patches have at least this grey-level std (flat patches carry no evidence)
    keep_ncc: float = 0.9  # a step failing the forward-backward check is kept when the textured patch still matches this well
    reattach_ncc: float = 0.95  # an occluded track is found again above this correlation
    max_gap: int = 12  # frames an occluded track is searched for before it is given up
    search_radius: int = 4  # re-attachment search radius (working-resolution px)
    patch: int = 7  # template side (working-resolution px)
    template_rate: float = 0.3  # how fast the template follows the track's appearance
    link: int = 4  # long flow links from frame a to a + link, a = 0, link, 2 link, ... (0 = off)
    link_ncc: float = 0.8  # a long link re-attaches a lost point whose textured patch matches this well (flat: always)
    link_snap: float = 3.0  # a visible point within this many px of where its long link lands moves there (0 = off)
    keep_features: bool = False  # keep the confidence features in .features (for calibration only)


@register("flow")
class FlowTracker:
    """Weight-free long-range tracker (see module docs). ``FlowTracker(**FlowTrackerConfig fields)``."""

    def __init__(self, **config):
        self.cfg = FlowTrackerConfig(**config)
        self.timings: dict[str, float] = {}

    def __call__(self, video: Video, queries: np.ndarray) -> Tracks:
        import time

        q = check_queries(queries, video.num_frames)
        T, H, W = video.num_frames, video.height, video.width
        size, sx, sy = working_size(H, W, self.cfg.work_side)
        t0 = time.perf_counter()
        gray = [cv2.resize(to_gray(f), size, interpolation=cv2.INTER_AREA) for f in video.frames]
        flows = _Flows(gray, self.cfg.preset, self.cfg.link, self.cfg.finest_scale)
        self.timings["flow"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        qt = np.round(q[:, 0]).astype(int)
        start = rescale_xy(q[:, 1:], sx, sy)
        rev = lambda a: a[::-1]
        links_bwd = {T - 1 - e: (T - 1 - a, b, f) for a, (e, f, b) in flows.links.items()}
        with ThreadPoolExecutor(2) as pool:  # the two passes are independent; OpenCV and numpy release the GIL
            fwd = pool.submit(_chain, self.cfg, gray, flows.forward, flows.backward, flows.homography, qt, start,
                              flows.links)
            bwd = pool.submit(_chain, self.cfg, rev(gray), rev(flows.backward), rev(flows.forward),
                              [np.linalg.inv(h) for h in rev(flows.homography)], T - 1 - qt, start, links_bwd)
            fwd, bwd = fwd.result(), bwd.result()
        bwd = {k: v[:, ::-1] for k, v in bwd.items()}
        after = np.arange(T)[None, :] >= qt[:, None]  # (N, T): use the forward pass
        out = {k: np.where(after[..., None] if fwd[k].ndim == 3 else after, fwd[k], bwd[k]) for k in fwd}
        self.timings["chain"] = time.perf_counter() - t0
        self.features = out.pop("features", None)
        return Tracks(rescale_xy(out["xy"], 1 / sx, 1 / sy), out["visible"], out["confidence"], qt.astype(np.int32))


class _Flows:
    """Forward/backward flow and camera homography for every frame pair (working resolution).

    The flows are kept as float16 (``sample_bilinear`` reads them as float32): they are the tracker's
    largest memory, 2 MB per frame at 480 px in float32. Below 16 px, float16 rounds a flow by at most
    0.004 px, far below DIS's own error.

    With ``link`` = K > 0, also the flows between frames a and a + K for a = 0, K, 2K, ...:
    ``links[a] = (a + K, forward, backward)``.
    """

    def __init__(self, gray: list[np.ndarray], preset: str, link: int = 0, finest_scale: int | None = None):
        def flows(pairs) -> list[np.ndarray]:
            dis = DISFlow(preset, finest_scale)  # one per thread
            return [dis(a, b).astype(np.float16) for a, b in pairs]

        starts = list(range(0, len(gray) - link, link)) if link > 0 else []
        pairs = list(zip(gray[:-1], gray[1:])) + [(gray[a], gray[a + link]) for a in starts]
        # DIS uses the two cores only in part: the two directions side by side take ~0.8x the time
        with ThreadPoolExecutor(2) as pool:
            forward = pool.submit(flows, pairs)
            backward = pool.submit(flows, [(b, a) for a, b in pairs])
            forward, backward = forward.result(), backward.result()
        n = len(gray) - 1
        self.forward, self.backward = forward[:n], backward[:n]
        self.links = {a: (a + link, f, b) for a, f, b in zip(starts, forward[n:], backward[n:])}
        self.homography = [fit_homography(f, step=16) for f in self.forward]


def _offsets(size: int) -> np.ndarray:
    r = (size - 1) / 2
    ys, xs = np.mgrid[-r : r + 1, -r : r + 1]
    return np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)  # (P, 2)


def _patches(img: np.ndarray, pts: np.ndarray, offsets: np.ndarray, with_std: bool = False):
    """Zero-mean, unit-norm patches ``(M, P)`` around points ``(M, 2)`` (and their std, ``(M,)``)."""
    x = pts[:, None, 0] + offsets[None, :, 0]
    y = pts[:, None, 1] + offsets[None, :, 1]
    p = sample_bilinear(img, x, y)
    p -= p.mean(1, keepdims=True)
    norm = np.linalg.norm(p, axis=1)
    p /= (norm + 1e-6)[:, None]
    return (p, norm / np.sqrt(p.shape[1])) if with_std else p


def _apply_h(Hm: np.ndarray, pts: np.ndarray) -> np.ndarray:
    if len(pts) == 0:
        return pts
    return cv2.perspectiveTransform(pts[:, None].astype(np.float64), Hm)[:, 0].astype(np.float32)


def _chain(cfg: FlowTrackerConfig, gray, forward, backward, homography, qt: np.ndarray, start: np.ndarray,
           links: dict | None = None) -> dict:
    """Track every query forward in time from its query frame. Frames before it are left empty.

    ``links[s] = (e, forward, backward)``: flows between frames s and e > s, non-overlapping, applied
    at e by :func:`_follow_link` to the points visible at s.

    Returns ``xy (N, T, 2)``, ``visible (N, T)``, ``confidence (N, T)`` at working resolution.
    """
    T = len(gray)
    N = len(qt)
    h, w = gray[0].shape
    off = _offsets(cfg.patch)
    xy = np.zeros((N, T, 2), np.float32)
    vis = np.zeros((N, T), bool)
    conf = np.zeros((N, T), np.float32)
    feats = np.zeros((N, T, len(CONFIDENCE)), np.float32) if cfg.keep_features else None
    pos = start.astype(np.float32).copy()
    alive = np.zeros(N, bool)  # started and not given up
    seen = np.zeros(N, bool)  # currently visible
    gap = np.zeros(N, int)
    age = np.zeros(N, np.float32)
    reattached = np.zeros(N, np.float32)
    template = np.zeros((N, len(off)), np.float32)
    tex_std = np.zeros(N, np.float32)  # texture of the query patch
    last = np.zeros(N, int)  # last frame the track was visible
    links = links or {}
    link = None  # (start, end, forward, backward, tracks visible at the start, their positions there)
    for t in range(T):
        new = qt == t
        if new.any():  # tracks start at their query frame, visible if inside the image
            inside = inside_frame(pos[new], w, h)
            idx = np.flatnonzero(new)
            alive[idx] = inside
            seen[idx] = inside
            template[idx], tex_std[idx] = _patches(gray[t], pos[idx], off, with_std=True)
            conf[idx, t] = inside
        xy[:, t] = pos
        vis[:, t] = seen
        last[seen] = t
        if t == T - 1:
            break
        # visible tracks: one flow step with checks
        v = np.flatnonzero(alive & seen)
        if t in links:
            link = (t, *links[t], v, pos[v].copy())
        if len(v):
            p = pos[v]
            f = sample_bilinear(forward[t], p[:, 0], p[:, 1])
            q = p + f
            b = sample_bilinear(backward[t], q[:, 0], q[:, 1])
            err = np.sum((f + b) ** 2, 1)
            bound = cfg.fb_alpha * (np.sum(f**2, 1) + np.sum(b**2, 1)) + cfg.fb_beta
            fb_ratio = err / bound
            ok = inside_frame(q, w, h)
            patches, std = _patches(gray[t + 1], q, off, with_std=True)
            ncc = np.sum(patches * template[v], 1)
            if cfg.fb_check:
                textured = np.minimum(std, tex_std[v]) >= cfg.min_texture
                # an inconsistent step is forgiven when the appearance clearly still matches
                ok &= (fb_ratio < 1) | (textured & (ncc >= cfg.keep_ncc))
                ok &= (ncc > cfg.ncc_lost) | ~textured
            good, bad = v[ok], v[~ok]
            pos[good] = q[ok]
            template[good] = _renorm((1 - cfg.template_rate) * template[good] + cfg.template_rate * patches[ok])
            age[good] += 1
            reattached[good] *= 0.7
            phi = np.stack([np.ones(ok.sum()), np.minimum(fb_ratio[ok], 4), ncc[ok], np.log1p(age[good]), reattached[good]], 1)
            conf[good, t + 1] = 1 / (1 + np.exp(-(phi @ CONFIDENCE)))
            if feats is not None:
                feats[good, t + 1] = phi
            pos[bad] = _apply_h(homography[t], p[~ok])
            seen[bad] = False
            gap[bad] = 1
        # occluded tracks: follow the camera, search for the template
        o = np.flatnonzero(alive & ~seen)
        o = o[~np.isin(o, v[~ok])] if len(v) else o
        if len(o):
            pos[o] = _apply_h(homography[t], pos[o])
            found, best = _search(gray[t + 1], pos[o], template[o], off, cfg.search_radius, w, h)
            hit = best >= cfg.reattach_ncc
            idx = o[hit]
            pos[idx] = found[hit]
            seen[idx] = True
            gap[idx] = 0
            reattached[idx] = 1.0
            phi = np.stack([np.ones(len(idx)), np.ones(len(idx)), best[hit], np.log1p(age[idx]), reattached[idx]], 1)
            conf[idx, t + 1] = 1 / (1 + np.exp(-(phi @ CONFIDENCE)))
            if feats is not None:
                feats[idx, t + 1] = phi
            miss = o[~hit]
            gap[miss] += 1
            alive[miss[gap[miss] > cfg.max_gap]] = False
        if link is not None and link[1] == t + 1:
            _follow_link(cfg, gray[t + 1], link, template, tex_std, off, xy, pos, alive, seen, gap, age, reattached,
                         last, conf, feats)
            link = None
        # given-up tracks keep following the camera so their positions stay defined
        dead = np.flatnonzero(~alive & (qt <= t))
        if len(dead):
            pos[dead] = _apply_h(homography[t], pos[dead])
    out = {"xy": xy, "visible": vis, "confidence": conf * vis}
    if feats is not None:
        out["features"] = feats
    return out


def _follow_link(cfg, img, link, template, tex_std, off, xy, pos, alive, seen, gap, age, reattached, last, conf, feats):
    """Apply a long link at its end frame ``e`` to the points visible at its start (in place).

    Where the link is forward–backward consistent, a point lost since the start is found again where
    it lands, if its patch matches the template (``link_ncc``) or is flat; its positions over the gap
    are interpolated linearly from its last visible one (it stays reported occluded there). A point
    still visible moves there if that is within ``link_snap`` px, and its positions since the start
    take their share of the correction.
    """
    start, e, forward, backward, held, p = link
    h, w = img.shape
    keep = alive[held]
    held, p = held[keep], p[keep]
    if not len(held):
        return
    f = sample_bilinear(forward, p[:, 0], p[:, 1])
    q = p + f
    b = sample_bilinear(backward, q[:, 0], q[:, 1])
    fb_ratio = np.sum((f + b) ** 2, 1) / (cfg.fb_alpha * (np.sum(f**2, 1) + np.sum(b**2, 1)) + cfg.fb_beta)
    patches, std = _patches(img, q, off, with_std=True)
    ncc = np.sum(patches * template[held], 1)
    textured = np.minimum(std, tex_std[held]) >= cfg.min_texture
    ok = (fb_ratio < 1) & inside_frame(q, w, h)
    lost = ok & ~seen[held] & ((ncc >= cfg.link_ncc) | ~textured)
    idx = held[lost]
    a = last[idx][:, None]  # positions over the gap: straight from the last visible one
    s = ((np.arange(e)[None] - a) / (e - a))[..., None]  # (M, e, 1)
    from_a = xy[idx, a[:, 0]][:, None]
    xy[idx, :e] = np.where(s > 0, from_a + s * (q[lost][:, None] - from_a), xy[idx, :e])
    pos[idx] = q[lost]
    seen[idx] = True
    gap[idx] = 0
    reattached[idx] = 1.0
    phi = np.stack([np.ones(len(idx)), np.minimum(fb_ratio[lost], 4), ncc[lost], np.log1p(age[idx]), reattached[idx]], 1)
    conf[idx, e] = 1 / (1 + np.exp(-(phi @ CONFIDENCE)))
    if feats is not None:
        feats[idx, e] = phi
    if cfg.link_snap > 0:
        near = ok & seen[held] & ~lost & (np.linalg.norm(q - pos[held], axis=1) < cfg.link_snap)
        i = held[near]
        s = (np.arange(start + 1, e) - start) / (e - start)  # the chained positions in between share the correction
        xy[i, start + 1 : e] += s[None, :, None] * (q[near] - pos[i])[:, None, :]
        pos[i] = q[near]


def _renorm(p: np.ndarray) -> np.ndarray:
    p = p - p.mean(1, keepdims=True)
    return p / (np.linalg.norm(p, axis=1, keepdims=True) + 1e-6)


def _search(img, centres, template, off, radius: int, w: int, h: int):
    """Best template match within ``radius`` px (2-px steps, then the best's 1-px neighbours)."""
    best_pos = centres.copy()
    best = np.full(len(centres), -1.0, np.float32)
    inside = inside_frame(centres, w, h)
    if not inside.any():
        return best_pos, best
    idx = np.flatnonzero(inside)
    c = centres[idx]
    coarse = np.array([(dx, dy) for dy in range(-radius, radius + 1, 2) for dx in range(-radius, radius + 1, 2)], np.float32)
    for grid in (coarse, np.array([(dx, dy) for dy in (-1, 0, 1) for dx in (-1, 0, 1)], np.float32)):
        cand = (c[:, None, :] + grid[None]).reshape(-1, 2)
        p = _patches(img, cand, off).reshape(len(c), len(grid), -1)
        score = np.einsum("ncp,np->nc", p, template[idx])
        k = score.argmax(1)
        c = cand.reshape(len(c), len(grid), 2)[np.arange(len(c)), k]
        best[idx] = score[np.arange(len(c)), k]
    best_pos[idx] = c
    ok = inside_frame(best_pos, w, h)
    best[~ok] = -1
    return best_pos, best
