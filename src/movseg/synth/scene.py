"""Random 3D scenes: a moving pinhole camera, static scenery, independently moving objects.

World frame: x right, y down, z forward (OpenCV camera convention at rest);
the ground is the plane ``y = 0``, so points above it have ``y < 0``. All
lengths are in metres, angles in radians, times in frames.

Every surface is planar (:class:`Surface`): infinite planes (ground, walls)
with tiled textures, and cards (finite planes with an alpha silhouette) for
props and objects. Planes give exact depth, exact instance maps and exact
point tracks, and camera translation over scenery at many depths gives real
parallax.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from movseg.synth import textures as tx


@dataclass
class Preset:
    """Scene-sampling settings of one preset (``train``, ``test``, ``demo``).

    The preset's name is mixed into every scene's random seed, so the test
    set never shares a scene with the training set, whatever seeds are used.
    """

    name: str = "train"
    frames: int = 24  # frames per scene
    size: tuple[int, int] = (256, 448)  # (H, W)
    fps: float = 24.0
    max_objects: int = 5  # independently moving objects: 0..max_objects
    p_no_objects: float = 0.1  # chance of a scene without moving objects
    grid: int = 16  # ground-truth track query grid (px)
    query_step: int = 8  # query frames every query_step frames
    texture_size: int = 128  # texels per card texture side
    # Texel-scale grain (gravel, bark, fabric) on every surface, each surface drawing a strength in
    # [0, 2 x detail]. Without it the frames are far flatter than real video: the median grey-level std of
    # 7x7 windows is 2.1 against DAVIS's 10.2 at the tracker's working size (docs/synth.md, "Fine detail"),
    # and on such flat surfaces the flow is too imprecise for the geometric cues. 0 leaves a scene exactly
    # as it was (the grain has its own random stream).
    detail: float = 0.0
    layout: str | None = None  # seed the scenes as this preset's (None: by ``name``)


PRESETS = {
    "train": Preset(),
    # the "train" scenes (the same layouts, seeds and motions) with fine detail
    "train-detail": Preset(name="train-detail", detail=0.15, layout="train"),
    "test": Preset(name="test"),
    "demo": Preset(name="demo", frames=72, size=(480, 854), max_objects=3, p_no_objects=0.0, grid=20, texture_size=256),
}


def rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rot_z(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


@dataclass
class Camera:
    """Per-frame pinhole cameras: ``x_cam = R (X_world - C)``, pixel = ``K x_cam`` (centres at integers).

    Attributes:
        R: ``(T, 3, 3)`` world→camera rotations; C: ``(T, 3)`` centres; K: ``(T, 3, 3)`` intrinsics.
    """

    R: np.ndarray
    C: np.ndarray
    K: np.ndarray

    def speed(self) -> tuple[float, float]:
        """Mean translation (m/frame) and rotation (deg/frame) between frames."""
        if len(self.C) < 2:
            return 0.0, 0.0
        trans = np.linalg.norm(np.diff(self.C, axis=0), axis=1).mean()
        rel = np.einsum("tij,tkj->tik", self.R[1:], self.R[:-1])
        ang = np.arccos(np.clip((np.trace(rel, axis1=1, axis2=2) - 1) / 2, -1, 1))
        return float(trans), float(np.degrees(ang).mean())


@dataclass
class Surface:
    """A textured plane. Local 2D coords ``(lx, ly)`` in metres map to ``o + lx * a1 + ly * a2``.

    Attributes:
        object_id: 0 for scenery, k for object k.
        o, a1, a2: ``(T, 3)`` origin and unit axes per frame (world).
        mips: texture pyramid (level 0 ``float32 (h, w, 3)``).
        alpha: ``float32 (h, w)`` silhouette for cards, ``None`` for infinite planes.
        extent: card size ``(width, height)`` in metres (local coords span ±extent/2);
            for infinite planes, metres per texel.
        shade: ``(T,)`` brightness factor per frame.
        deform: ``(amp, freq, phase_per_frame (T,))`` of a mild bending, or ``None``.
        moving: this surface moves independently (gets motion blur, casts a shadow).
    """

    object_id: int
    o: np.ndarray
    a1: np.ndarray
    a2: np.ndarray
    mips: list
    alpha: np.ndarray | None
    extent: tuple[float, float] | float
    shade: np.ndarray
    deform: tuple | None = None
    moving: bool = False
    casts_shadow: bool = False

    @property
    def infinite(self) -> bool:
        return self.alpha is None

    def normal(self, t: int) -> np.ndarray:
        n = np.cross(self.a1[t], self.a2[t])
        return n / np.linalg.norm(n)

    def displacement(self, lx: np.ndarray, ly: np.ndarray, t: int):
        """Deformation of local coords at frame ``t``: ``(dx, dy)`` in metres (zeros when rigid)."""
        if self.deform is None:
            return 0.0, 0.0
        amp, freq, phase = self.deform
        p = phase[t]
        return amp * np.sin(freq * ly + p), 0.5 * amp * np.sin(freq * lx + 1.3 * p)

    def undeform(self, lx: np.ndarray, ly: np.ndarray, t: int):
        """Inverse of the deformation: the undeformed coords that land on ``(lx, ly)`` at frame ``t``
        (fixed-point iteration; the bending is mild, so it contracts)."""
        if self.deform is None:
            return lx, ly
        ux, uy = lx, ly
        for _ in range(4):
            dx, dy = self.displacement(ux, uy, t)
            ux, uy = lx - dx, ly - dy
        return ux, uy

    def world(self, lx: np.ndarray, ly: np.ndarray, t: int) -> np.ndarray:
        """Undeformed local coords → world points at frame ``t`` (deformation applied): ``(..., 3)``."""
        dx, dy = self.displacement(lx, ly, t)
        x, y = lx + dx, ly + dy
        return self.o[t] + x[..., None] * self.a1[t] + y[..., None] * self.a2[t]


@dataclass
class SceneSpec:
    """Everything needed to render one scene deterministically."""

    seed: int
    preset: Preset
    camera: Camera
    surfaces: list[Surface]
    moving: np.ndarray  # bool (K, T): object k+1 moves at frame t
    light: np.ndarray  # (3,) direction light travels (y > 0: downwards)
    gain: np.ndarray  # (T,) global illumination over time
    noise_sigma: float
    jpeg_quality: int
    sky: np.ndarray  # (2, 3) zenith and horizon colours
    clouds: np.ndarray  # float32 (h, w) cloud cover in [0, 1], mapped on the sky by (azimuth, elevation)
    info: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- camera
def sample_camera(rng: np.random.Generator, T: int, H: int, W: int) -> tuple[Camera, dict]:
    """A 6-DoF trajectory mixing pan, tilt, dolly, truck, orbit, handheld shake and zoom."""
    fov = np.radians(rng.uniform(45, 75))
    f0 = (W / 2) / np.tan(fov / 2)
    height = rng.uniform(0.9, 2.2)
    strength = rng.choice([0.05, 0.4, 1.0, 1.8], p=[0.15, 0.3, 0.35, 0.2])
    t = np.arange(T, dtype=np.float64)
    v = np.array([rng.uniform(-1, 1) * 0.06, rng.uniform(-1, 1) * 0.008, rng.uniform(-0.4, 1) * 0.07]) * strength
    yaw_rate = np.radians(rng.uniform(-1, 1) * 0.8) * strength
    pitch0 = np.radians(rng.uniform(2, 14))
    pitch_rate = np.radians(rng.uniform(-1, 1) * 0.25) * strength
    C = np.array([0.0, -height, 0.0]) + t[:, None] * v
    yaw = yaw_rate * t
    kind = rng.choice(["free", "orbit"], p=[0.8, 0.2])
    if kind == "orbit":  # keep looking at a point ahead while translating sideways
        D = rng.uniform(4, 12)
        yaw = np.arctan2(-(C[:, 0] - C[0, 0]), D - (C[:, 2] - C[0, 2]))
    pitch = pitch0 + pitch_rate * t
    shake = rng.uniform(0, 0.006) * strength
    roll = np.zeros(T)
    for _ in range(3):  # handheld shake: a few incommensurate sinusoids
        w, ph = rng.uniform(0.1, 0.6), rng.uniform(0, 2 * np.pi, 3)
        yaw = yaw + shake * np.sin(w * t + ph[0])
        pitch = pitch + shake * np.sin(1.3 * w * t + ph[1])
        roll = roll + 0.5 * shake * np.sin(0.7 * w * t + ph[2])
        C = C + 0.3 * shake * np.sin(w * t[:, None] + ph)
    zoom = rng.uniform(-0.008, 0.008) if rng.random() < 0.15 else 0.0
    f = f0 * (1 + zoom * t)
    R = np.stack([rot_z(roll[i]) @ rot_x(pitch[i]) @ rot_y(-yaw[i]) for i in range(T)])  # pitch > 0 looks down
    K = np.zeros((T, 3, 3))
    K[:, 0, 0] = K[:, 1, 1] = f
    K[:, 0, 2], K[:, 1, 2], K[:, 2, 2] = (W - 1) / 2, (H - 1) / 2, 1
    info = {"fov_deg": float(np.degrees(fov)), "strength": float(strength), "kind": str(kind), "zoom_per_frame": float(zoom)}
    return Camera(R, C, K), info


# --------------------------------------------------------------------------- surfaces
def _static_axes(T: int, yaw: float):
    a1 = np.tile(rot_y(yaw) @ np.array([1.0, 0, 0]), (T, 1))
    a2 = np.tile(np.array([0.0, 1.0, 0.0]), (T, 1))
    return a1, a2


def _lambert(normal: np.ndarray, light: np.ndarray) -> float:
    return 0.55 + 0.45 * abs(float(np.dot(normal, -light)))


def _card(rng, T, object_id, centre, yaw, width, height, tex_size, palette=None, kind=None, shape="blob", light=None, gain=None):
    tex = tx.texture(rng, tex_size, palette, kind)
    alpha = tx.silhouette(rng, tex_size) if shape == "blob" else tx.rect_alpha(tex_size)
    a1, a2 = _static_axes(T, yaw)
    o = np.tile(np.asarray(centre, float), (T, 1))
    s = Surface(object_id, o, a1, a2, tx.mip_levels(tex), alpha, (width, height), np.ones(T))
    s.shade = gain * _lambert(s.normal(0), light)
    return s


def sample_scene(seed: int, preset: Preset, index: int = 0) -> SceneSpec:
    """Sample scene ``index`` of the set with base ``seed`` (independent of how many are generated)."""
    key = [seed, index, sum(ord(c) << (8 * i) for i, c in enumerate(preset.layout or preset.name))]
    rng = np.random.default_rng(key)
    T, (H, W) = preset.frames, preset.size
    camera, cam_info = sample_camera(rng, T, H, W)
    light = np.array([rng.uniform(-0.6, 0.6), 1.0, rng.uniform(-0.3, 0.8)])
    light /= np.linalg.norm(light)
    gain = 1 + rng.uniform(0, 0.12) * np.sin(2 * np.pi * np.arange(T) / rng.uniform(20, 80) + rng.uniform(0, 6.3))
    if rng.random() < 0.2:  # a cloud passes: a smooth step in illumination
        t0 = rng.uniform(0, T)
        gain = gain * (1 - rng.uniform(0.05, 0.2) / (1 + np.exp(-(np.arange(T) - t0) / 2)))
    surfaces: list[Surface] = []
    tex_big = 4 * preset.texture_size
    # ground and walls (infinite planes)
    ground_tex = tx.texture(rng, tex_big, rng.choice(["earth", "foliage", "stone", "urban"]))
    ground = Surface(0, np.zeros((T, 3)), np.tile([1.0, 0, 0], (T, 1)), np.tile([0, 0, 1.0], (T, 1)),
                     tx.mip_levels(ground_tex, 6), None, rng.uniform(0.015, 0.04), gain * _lambert(np.array([0, -1.0, 0]), light))
    surfaces.append(ground)
    far = rng.uniform(14, 45)
    if rng.random() < 0.75:
        wall_tex = tx.texture(rng, tex_big)
        surfaces.append(Surface(0, np.tile([0, 0, far], (T, 1)), np.tile([1.0, 0, 0], (T, 1)), np.tile([0, 1.0, 0], (T, 1)),
                                tx.mip_levels(wall_tex, 6), None, rng.uniform(0.02, 0.08), gain * _lambert(np.array([0, 0, -1.0]), light)))
    if rng.random() < 0.3:
        side = rng.choice([-1, 1]) * rng.uniform(3, 8)
        wall_tex = tx.texture(rng, tex_big)
        surfaces.append(Surface(0, np.tile([side, 0, 0], (T, 1)), np.tile([0, 0, 1.0], (T, 1)), np.tile([0, 1.0, 0], (T, 1)),
                                tx.mip_levels(wall_tex, 6), None, rng.uniform(0.02, 0.06), gain * _lambert(np.array([1.0, 0, 0]), light)))
    tan_half = (W / 2) / camera.K[0, 0, 0]
    # static props at many depths: boxes, poles, blobs
    for _ in range(rng.integers(3, 11)):
        z = rng.uniform(2.5, far * 0.9)
        x = rng.uniform(-1.3, 1.3) * z * tan_half
        w, h = rng.uniform(0.3, 2.5), rng.uniform(0.4, 3.5)
        shape = rng.choice(["rect", "blob"])
        surfaces.append(_card(rng, T, 0, (x, -h / 2 + 0.01, z), rng.uniform(-0.7, 0.7), w, h, preset.texture_size,
                              shape=shape, light=light, gain=gain))
    # independently moving objects (and static look-alikes)
    n_obj = 0 if rng.random() < preset.p_no_objects else int(rng.integers(1, preset.max_objects + 1))
    moving_rows: list[np.ndarray] = []
    objects_info: list[dict] = []
    shared_velocity = rng.random() < 0.2  # objects moving together at the same speed
    v_shared = None
    for k in range(n_obj):
        obj_id = len(moving_rows) + 1
        active, profile = _activity(rng, T)
        kind = rng.choice(["rigid", "rigid", "articulated", "deforming"])
        spec = _object(rng, T, obj_id, camera, tan_half, far, preset, light, gain, active, kind,
                       v_shared if shared_velocity else None)
        if v_shared is None:
            v_shared = spec["velocity"]
        surfaces += spec["surfaces"]
        moving_rows.append(active)
        objects_info.append({"id": obj_id, "kind": str(kind), "profile": profile, "flying": spec["flying"]})
        if rng.random() < 0.4:  # a static look-alike: same shape and texture family, never moves
            twin_id = len(moving_rows) + 1
            still = np.zeros(T, bool)
            twin = _object(rng, T, twin_id, camera, tan_half, far, preset, light, gain, still, "rigid", None,
                           palette=spec["palette"], tex_kind=spec["tex_kind"])
            surfaces += twin["surfaces"]
            moving_rows.append(still)
            objects_info.append({"id": twin_id, "kind": "static-lookalike", "profile": "static", "flying": twin["flying"], "twin_of": obj_id})
    moving = np.array(moving_rows, bool).reshape(len(moving_rows), T)
    sky = np.array([[rng.uniform(90, 160), rng.uniform(130, 190), rng.uniform(200, 250)],
                    [rng.uniform(180, 230), rng.uniform(190, 230), rng.uniform(200, 240)]])
    info = {"key": key, "camera": cam_info, "objects": objects_info, "shared_velocity": bool(shared_velocity and n_obj > 1)}
    if preset.detail > 0:
        detail_rng = np.random.default_rng(key + [1])  # its own stream: the rest of the scene stays as without it
        for s in surfaces:
            s.mips = tx.mip_levels(tx.add_grain(detail_rng, s.mips[0], detail_rng.uniform(0, 2 * preset.detail)), len(s.mips))
    return SceneSpec(seed, preset, camera, surfaces, moving, light, gain, float(rng.uniform(0.5, 4.0)),
                     int(rng.integers(60, 96)), sky, _clouds(rng), info)


def _clouds(rng: np.random.Generator) -> np.ndarray:
    n = tx.value_noise(rng, 256, 6, 0.6)
    cover = rng.uniform(0.3, 0.8)
    return np.clip((n - cover) / (1 - cover + 1e-6) * 1.5, 0, 1).astype(np.float32)


def _activity(rng: np.random.Generator, T: int) -> tuple[np.ndarray, str]:
    """Per-frame motion flags of one object: always, start/stop, starts late, stops early."""
    profile = rng.choice(["always", "stop-start", "starts", "stops"], p=[0.5, 0.25, 0.125, 0.125])
    a = np.ones(T, bool)
    if profile == "stop-start" and T >= 6:
        t0 = int(rng.integers(1, T - 3))
        t1 = int(rng.integers(t0 + 2, min(T, t0 + max(3, T // 2)) + 1))
        a[t0:t1] = False
    elif profile == "starts" and T >= 4:
        a[: int(rng.integers(2, T - 1))] = False
    elif profile == "stops" and T >= 4:
        a[int(rng.integers(2, T - 1)) :] = False
    return a, str(profile)


def _object(rng, T, obj_id, camera, tan_half, far, preset, light, gain, active, kind, velocity, palette=None, tex_kind=None):
    """One object: its surfaces (1 card, or body + 2-4 limbs) and motion."""
    palette = palette or rng.choice(list(tx.PALETTES))
    tex_kind = tex_kind or rng.choice(["noise", "stripes", "blotches", "gradient", "checker"])
    z0 = rng.uniform(2.5, min(10, far * 0.8))
    flying = rng.random() < 0.2
    w, h = rng.uniform(0.6, 2.2), rng.uniform(0.7, 2.2)
    entering = rng.random() < 0.2
    side = rng.choice([-1, 1])
    x0 = side * rng.uniform(1.05, 1.3) * z0 * tan_half if entering else rng.uniform(-0.8, 0.8) * z0 * tan_half
    y0 = -rng.uniform(1.5, 4.0) if flying else -h / 2 + 0.02
    if velocity is None:
        speed = rng.uniform(0.02, 0.1)
        ang = rng.uniform(0, 2 * np.pi) if not entering else (np.pi if side > 0 else 0.0) + rng.uniform(-0.5, 0.5)
        velocity = np.array([np.cos(ang) * speed, rng.uniform(-0.01, 0.01) if flying else 0.0, np.sin(ang) * speed])
    # position integrates the velocity only while active (start/stop ground truth)
    steps = np.concatenate([[0.0], np.cumsum(active[:-1].astype(float))])
    centre = np.array([x0, y0, z0]) + steps[:, None] * velocity
    yaw = rng.uniform(-0.6, 0.6) + steps * rng.uniform(-0.03, 0.03)
    roll = steps * (rng.uniform(-0.04, 0.04) if kind == "rigid" and rng.random() < 0.3 else 0.0)
    a1 = np.stack([rot_y(yaw[t]) @ rot_z(roll[t]) @ np.array([1.0, 0, 0]) for t in range(T)])
    a2 = np.stack([rot_y(yaw[t]) @ rot_z(roll[t]) @ np.array([0, 1.0, 0]) for t in range(T)])
    texture = tx.texture(rng, preset.texture_size, palette, tex_kind)
    alpha = tx.silhouette(rng, preset.texture_size)
    shade = np.array([gain[t] * _lambert(np.cross(a1[t], a2[t]), light) for t in range(T)])
    deform = None
    if kind == "deforming":
        deform = (rng.uniform(0.03, 0.08) * w, rng.uniform(2, 5) / h, steps * rng.uniform(0.2, 0.5) + rng.uniform(0, 6.3))
    body = Surface(obj_id, centre, a1, a2, tx.mip_levels(texture), alpha, (w, h), shade, deform, True, True)
    surfaces = [body]
    if kind == "articulated":
        for _ in range(int(rng.integers(2, 5))):
            lw, lh = w * rng.uniform(0.15, 0.3), h * rng.uniform(0.35, 0.7)
            joint = np.array([rng.uniform(-0.3, 0.3) * w, rng.uniform(-0.3, 0.35) * h])
            base = rng.uniform(-0.8, 0.8)
            swing = rng.uniform(0.3, 0.8) * np.sin(steps * rng.uniform(0.25, 0.6) + rng.uniform(0, 6.3))
            ang = base + swing
            n = np.cross(a1, a2)
            la1 = np.cos(ang)[:, None] * a1 + np.sin(ang)[:, None] * a2
            la2 = -np.sin(ang)[:, None] * a1 + np.cos(ang)[:, None] * a2
            jw = centre + joint[0] * a1 + joint[1] * a2 - 0.01 * n * rng.choice([-1, 1])
            o = jw + (lh / 2) * la2  # the limb hangs from its joint
            ltex = tx.texture(rng, preset.texture_size // 2, palette, tex_kind)
            lalpha = tx.silhouette(rng, preset.texture_size // 2, smooth=0.08)
            surfaces.append(Surface(obj_id, o, la1, la2, tx.mip_levels(ltex), lalpha, (lw, lh), shade, None, True, True))
    return {"surfaces": surfaces, "velocity": velocity, "flying": bool(flying), "palette": palette, "tex_kind": tex_kind}
