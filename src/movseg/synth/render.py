"""Render a :class:`SceneSpec`: frames, instance ids, depth and exact point tracks.

Every surface is a plane, so each pixel's ray is intersected with each plane
analytically (depth is exact) and textures are sampled with ``cv2.remap``;
a z-buffer decides visibility, surfaces are blended far to near so that soft
(motion-blurred) edges look right while the ground truth stays sharp.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from movseg.sampling import sample_bilinear
from movseg.synth.scene import SceneSpec, Surface

NEAR = 0.1  # metres: nothing closer to the camera is drawn
SKY_DEPTH = 1000.0  # depth written where no surface is hit


@dataclass
class RenderedFrame:
    """One frame before sensor effects.

    Attributes:
        rgb: ``float32 (H, W, 3)`` in [0, 255]; depth: ``float32 (H, W)``;
        surface: ``int16 (H, W)`` index of the visible surface (-1 = sky);
        instance: ``uint8 (H, W)`` object id (0 = scenery).
    """

    rgb: np.ndarray
    depth: np.ndarray
    surface: np.ndarray
    instance: np.ndarray


def _rays(K: np.ndarray, H: int, W: int) -> np.ndarray:
    """Camera-space ray directions with z = 1 for every pixel: ``float32 (H, W, 3)``."""
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    return np.stack([(xs - K[0, 2]) / K[0, 0], (ys - K[1, 2]) / K[1, 1], np.ones_like(xs)], -1)


def _roi(s: Surface, t: int, R, C, K, H: int, W: int, margin: int):
    """Pixel box ``(y0, y1, x0, x1)`` that can contain the surface, or ``None`` if it is not in view."""
    if s.infinite:
        return 0, H, 0, W
    w, h = s.extent
    corners = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) * 0.62  # a little beyond: deformation
    pts = s.o[t] + corners[:, :1] * s.a1[t] + corners[:, 1:] * s.a2[t]
    cam = (pts - C) @ R.T
    if (cam[:, 2] <= NEAR).all():
        return None
    if (cam[:, 2] <= NEAR).any():
        return 0, H, 0, W
    uv = cam[:, :2] / cam[:, 2:] * [K[0, 0], K[1, 1]] + [K[0, 2], K[1, 2]]
    x0, y0 = np.floor(uv.min(0)).astype(int) - margin
    x1, y1 = np.ceil(uv.max(0)).astype(int) + margin + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
    return (y0, y1, x0, x1) if x1 > x0 and y1 > y0 else None


def _sample(s: Surface, t: int, rays: np.ndarray, R, C, K):
    """Intersect rays ``(h, w, 3)`` with surface ``s`` at frame ``t``.

    Returns (plane depth ``(h, w)``, inf where the ray misses the plane,
    colour ``(h, w, 3)``, alpha ``(h, w)``: the surface covers pixels with alpha ≥ 0.5).
    """
    o_c = (R @ (s.o[t] - C)).astype(np.float32)
    a1_c, a2_c = (R @ s.a1[t]).astype(np.float32), (R @ s.a2[t]).astype(np.float32)
    n_c = np.cross(a1_c, a2_c)
    denom = rays @ n_c  # float32 throughout: a few mm of error at 50 m is invisible
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = np.float32(o_c @ n_c) / denom
    depth[~(depth > NEAR)] = np.inf
    hit = np.isfinite(depth)
    d0 = np.where(hit, depth, np.float32(0))
    # local coords: (d * ray - o) . a  ==  d * (ray . a) - o . a
    lx = d0 * (rays @ a1_c) - np.float32(o_c @ a1_c)
    ly = d0 * (rays @ a2_c) - np.float32(o_c @ a2_c)
    lx, ly = s.undeform(lx, ly, t)
    if s.infinite:
        texel = s.extent
        # texture minification: one pyramid level per doubling of the pixel footprint
        cos = np.abs(denom) / np.sqrt(rays[..., 0] ** 2 + rays[..., 1] ** 2 + 1)
        footprint = d0 / (K[0, 0] * texel * np.maximum(cos, 0.05))
        level = np.clip(np.log2(np.maximum(footprint, 1e-6)), 0, len(s.mips) - 1)
        colour = np.zeros(depth.shape + (3,), np.float32)
        lv = np.floor(level).astype(int)
        levels = lv[hit]
        for L in range(int(levels.min()), int(levels.max()) + 1) if levels.size else ():
            m = (lv == L) & hit
            tex = s.mips[L]
            th, tw = tex.shape[:2]
            u = np.mod(lx[m] / texel / 2**L, tw).astype(np.float32)
            v = np.mod(ly[m] / texel / 2**L, th).astype(np.float32)
            colour[m] = sample_bilinear(tex, u, v, cv2.BORDER_WRAP)
        return depth, colour, hit.astype(np.float32)
    w, h = s.extent
    ah, aw = s.alpha.shape
    level = 0
    z_centre = float((R @ (s.o[t] - C))[2])
    if z_centre > NEAR:  # pick a pyramid level from the card's on-screen size
        px_per_texel = K[0, 0] * w / aw / z_centre
        level = int(np.clip(np.floor(np.log2(max(1 / max(px_per_texel, 1e-6), 1))), 0, len(s.mips) - 1))
    tex = s.mips[level]
    th, tw = tex.shape[:2]
    u = ((lx / w + 0.5) * tw - 0.5).astype(np.float32)
    v = ((ly / h + 0.5) * th - 0.5).astype(np.float32)
    colour = cv2.remap(tex, u, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    ua = ((lx / w + 0.5) * aw - 0.5).astype(np.float32)
    va = ((ly / h + 0.5) * ah - 0.5).astype(np.float32)
    alpha = cv2.remap(s.alpha, ua, va, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    alpha[~hit] = 0
    return depth, colour, alpha


def _image_velocity(s: Surface, t: int, spec: SceneSpec) -> np.ndarray:
    """On-screen displacement (px) of the surface centre from frame t to t+1."""
    cam = spec.camera
    t1 = min(t + 1, len(cam.C) - 1)
    if t1 == t:
        return np.zeros(2)
    uv = []
    for ti in (t, t1):
        p = cam.R[ti] @ (s.o[ti] - cam.C[ti])
        if p[2] <= NEAR:
            return np.zeros(2)
        uv.append(p[:2] / p[2] * cam.K[ti, 0, 0])
    return uv[1] - uv[0]


def _motion_blur(colour: np.ndarray, alpha: np.ndarray, v: np.ndarray, exposure: float = 0.5):
    """Blur a premultiplied layer along the on-screen velocity ``v`` (px/frame)."""
    length = float(np.linalg.norm(v) * exposure)
    if length < 1.0:
        return colour, alpha
    k = int(np.ceil(length)) | 1
    kernel = np.zeros((k, k), np.float32)
    c = k // 2
    d = v / np.linalg.norm(v) * length / 2
    cv2.line(kernel, (int(round(c - d[0])), int(round(c - d[1]))), (int(round(c + d[0])), int(round(c + d[1]))), 1.0, 1)
    kernel /= kernel.sum()
    pre = cv2.filter2D(colour * alpha[..., None], -1, kernel, borderType=cv2.BORDER_CONSTANT)
    a = cv2.filter2D(alpha, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    return pre / np.maximum(a, 1e-4)[..., None], a


def _shadow(s: Surface, t: int, spec: SceneSpec, H: int, W: int):
    """Soft shadow that card ``s`` casts on the ground along the light: ``((y0, y1, x0, x1), float32 (h, w))`` or None."""
    cam, L = spec.camera, spec.light
    w, h = s.extent
    ah, aw = s.alpha.shape
    tex_corners = np.array([[0, 0], [aw - 1, 0], [aw - 1, ah - 1], [0, ah - 1]], np.float32)
    local = (tex_corners + 0.5) / [aw, ah] - 0.5
    pts = s.o[t] + (local[:, :1] * w) * s.a1[t] + (local[:, 1:] * h) * s.a2[t]
    if (pts[:, 1] >= 0).all():
        return None
    k = np.maximum(-pts[:, 1], 0) / L[1]
    ground = pts + k[:, None] * L
    ground[:, 1] = 0
    cam_pts = (ground - cam.C[t]) @ cam.R[t].T
    if (cam_pts[:, 2] <= NEAR).any():
        return None
    uv = (cam_pts[:, :2] / cam_pts[:, 2:] * [cam.K[t, 0, 0], cam.K[t, 1, 1]] + [cam.K[t, 0, 2], cam.K[t, 1, 2]]).astype(np.float32)
    x0, y0 = np.maximum(np.floor(uv.min(0)).astype(int) - 6, 0)
    x1, y1 = np.minimum(np.ceil(uv.max(0)).astype(int) + 7, [W, H])
    if x1 <= x0 or y1 <= y0:
        return None
    Hm = cv2.getPerspectiveTransform(tex_corners, uv - np.float32([x0, y0]))
    sh = cv2.warpPerspective(s.alpha, Hm, (int(x1 - x0), int(y1 - y0)), flags=cv2.INTER_LINEAR, borderValue=0)
    return (int(y0), int(y1), int(x0), int(x1)), cv2.GaussianBlur(sh, (0, 0), 2.0)


def _sky(spec: SceneSpec, rays: np.ndarray, R: np.ndarray) -> np.ndarray:
    """The sky at infinity, ``float32 (H, W, 3)``: a gradient by world elevation with clouds
    mapped by (azimuth, elevation), so it moves with camera rotation but not translation."""
    H, W = rays.shape[:2]
    rays = rays[::4, ::4]  # smooth: computed at 1/4 resolution, then upsampled
    d = rays @ R.astype(np.float32)  # world directions (rows of R^T)
    elev = -d[..., 1] / np.linalg.norm(d, axis=-1)  # y is down
    az = np.arctan2(d[..., 0], d[..., 2])
    h, w = spec.clouds.shape
    u = (az / (2 * np.pi) * 4 * w).astype(np.float32)
    v = (np.clip(elev, 0, 1) * 3 * h).astype(np.float32)
    cloud = cv2.remap(spec.clouds, u, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    g = np.clip(elev * 2.5, 0, 1)[..., None]
    base = spec.sky[1] * (1 - g) + spec.sky[0] * g
    sky = (base + (np.float32(235) - base) * (0.8 * cloud)[..., None]).astype(np.float32)
    return cv2.resize(sky, (W, H), interpolation=cv2.INTER_LINEAR)


def render_frame(spec: SceneSpec, t: int) -> RenderedFrame:
    """Render frame ``t`` of a scene (no noise, no JPEG)."""
    H, W = spec.preset.size
    R, C, K = spec.camera.R[t], spec.camera.C[t], spec.camera.K[t]
    rays = _rays(K.astype(np.float32), H, W)
    rgb = _sky(spec, rays, R) * np.float32(spec.gain[t])
    zbuf = np.full((H, W), np.inf, np.float32)
    surf = np.full((H, W), -1, np.int16)
    layers = []
    for i, s in enumerate(spec.surfaces):
        margin = 0
        v = _image_velocity(s, t, spec) if s.moving else np.zeros(2)
        if s.moving:
            margin = int(np.ceil(np.linalg.norm(v))) + 2
        roi = _roi(s, t, R, C, K, H, W, margin)
        if roi is None:
            continue
        y0, y1, x0, x1 = roi
        depth, colour, alpha = _sample(s, t, rays[y0:y1, x0:x1], R, C, K)
        covered = alpha >= 0.5
        if not covered.any() and not s.moving:
            continue
        order = np.inf if s.infinite else float(np.median(depth[covered])) if covered.any() else 0.0
        layers.append((order, i, roi, depth, colour * s.shade[t], alpha, v))
    shadows = np.zeros((H, W), np.float32)
    for s in spec.surfaces:
        if s.casts_shadow:
            sh = _shadow(s, t, spec, H, W)
            if sh is not None:
                (y0, y1, x0, x1), a = sh
                np.maximum(shadows[y0:y1, x0:x1], a, out=shadows[y0:y1, x0:x1])
    # far to near; infinite planes first
    for order, i, (y0, y1, x0, x1), depth, colour, alpha, v in sorted(layers, key=lambda l: -l[0]):
        s = spec.surfaces[i]
        z = zbuf[y0:y1, x0:x1]
        in_front = depth < z
        hard = in_front & (alpha >= 0.5)  # the ground truth: sharp geometry
        if s.moving:
            colour, alpha = _motion_blur(colour, alpha, v)
        blend = alpha * in_front  # the picture: soft and blurred edges
        view = rgb[y0:y1, x0:x1]
        view += (colour - view) * blend[..., None]
        z[hard] = depth[hard]
        surf[y0:y1, x0:x1][hard] = i
        if s.infinite and i == 0:  # the ground receives shadows
            sh = shadows[y0:y1, x0:x1] * hard
            view *= 1 - 0.45 * sh[..., None]
    ids = np.array([s.object_id for s in spec.surfaces] + [0], np.uint8)
    instance = ids[surf]  # surf == -1 → the appended 0
    np.minimum(zbuf, SKY_DEPTH, out=zbuf)  # sky, and the ground at the horizon
    return RenderedFrame(rgb, zbuf, surf, instance)


def sensor(rgb: np.ndarray, spec: SceneSpec, t: int) -> np.ndarray:
    """Sensor noise (seeded per frame) → ``uint8 (H, W, 3)``."""
    seed = int(np.random.default_rng([*spec.info["key"], 7919, t]).integers(1, 2**31))
    noise = np.empty(rgb.shape, np.float32)
    cv2.setRNGSeed(seed)  # OpenCV's generator: ~10x faster than numpy's normal sampler
    cv2.randn(noise, 0.0, float(spec.noise_sigma))
    noisy = rgb + noise
    return np.clip(noisy, 0, 255).round().astype(np.uint8)


# --------------------------------------------------------------------------- tracks
def query_points(frames: list[RenderedFrame], grid: int, step: int) -> np.ndarray:
    """Grid queries ``(N, 3)`` as ``(t, x, y)`` every ``grid`` px on frames ``0, step, 2*step, ...``
    (only pixels that show a surface)."""
    H, W = frames[0].depth.shape
    ys, xs = np.mgrid[grid // 2 : H : grid, grid // 2 : W : grid]
    out = []
    for t in range(0, len(frames), step):
        keep = frames[t].surface[ys, xs] >= 0
        q = np.stack([np.full(keep.sum(), t), xs[keep], ys[keep]], 1)
        out.append(q)
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 3), np.float32)


def project_tracks(spec: SceneSpec, frames: list[RenderedFrame], queries: np.ndarray) -> dict:
    """Exact tracks of the surface points seen at the query pixels.

    Args:
        queries: ``(N, 3)`` ``(t, x, y)`` at integer pixels that show a surface.

    Returns:
        ``xy float32 (N, T, 2)``, ``visible bool (N, T)`` (in the frame and not
        occluded: its depth within 1 % of the z-buffer's), ``object_id int32 (N,)``,
        ``query_frame int32 (N,)``, ``moving bool (N, T)``.
    """
    T = len(frames)
    H, W = frames[0].depth.shape
    N = len(queries)
    xy = np.zeros((N, T, 2), np.float32)
    depth = np.zeros((N, T), np.float32)
    qt = queries[:, 0].astype(int)
    qx, qy = queries[:, 1].astype(int), queries[:, 2].astype(int)
    surf_idx = np.array([frames[t].surface[y, x] for t, x, y in zip(qt, qx, qy)], int)
    lx, ly = np.zeros(N), np.zeros(N)
    cam = spec.camera
    for t in np.unique(qt):  # local (undeformed) coordinates of each query on its surface
        m = qt == t
        rays = np.stack([(qx[m] - cam.K[t, 0, 2]) / cam.K[t, 0, 0], (qy[m] - cam.K[t, 1, 2]) / cam.K[t, 1, 1], np.ones(m.sum())], 1)
        for si in np.unique(surf_idx[m]):
            mm = surf_idx[m] == si
            s = spec.surfaces[si]
            o_c = cam.R[t] @ (s.o[t] - cam.C[t])
            a1_c, a2_c = cam.R[t] @ s.a1[t], cam.R[t] @ s.a2[t]
            n_c = np.cross(a1_c, a2_c)
            r = rays[mm]
            rel = r * ((o_c @ n_c) / (r @ n_c))[:, None] - o_c
            idx = np.flatnonzero(m)[mm]
            lx[idx], ly[idx] = s.undeform(rel @ a1_c, rel @ a2_c, t)
    for t in range(T):
        for si in np.unique(surf_idx):
            m = surf_idx == si
            P = spec.surfaces[si].world(lx[m], ly[m], t)
            pc = (P - cam.C[t]) @ cam.R[t].T
            z = pc[:, 2]
            with np.errstate(divide="ignore", invalid="ignore"):
                u = pc[:, 0] / z * cam.K[t, 0, 0] + cam.K[t, 0, 2]
                v = pc[:, 1] / z * cam.K[t, 1, 1] + cam.K[t, 1, 2]
            xy[m, t, 0], xy[m, t, 1], depth[m, t] = u, v, z
    ui, vi = np.round(xy[..., 0]).astype(np.int64), np.round(xy[..., 1]).astype(np.int64)
    inside = (depth > NEAR) & (ui >= 0) & (ui < W) & (vi >= 0) & (vi < H)
    zb = np.stack([f.depth for f in frames])  # (T, H, W)
    tt = np.broadcast_to(np.arange(T), (N, T))
    zhere = np.where(inside, zb[tt, np.clip(vi, 0, H - 1), np.clip(ui, 0, W - 1)], 0)
    visible = inside & (depth <= zhere * 1.01 + 1e-3)
    obj = np.array([s.object_id for s in spec.surfaces], np.int32)[surf_idx] if N else np.zeros(0, np.int32)
    moving = np.zeros((N, T), bool)
    for k in range(spec.moving.shape[0]):
        moving[obj == k + 1] = spec.moving[k]
    xy[~np.isfinite(xy)] = -1e4
    return {"xy": xy, "visible": visible, "object_id": obj, "query_frame": qt.astype(np.int32), "moving": moving}
