"""Generate scenes in memory (for training) or write them to disk (for tests and benchmarks)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from movseg.synth.render import project_tracks, query_points, render_frame, sensor
from movseg.synth.scene import PRESETS, Preset, SceneSpec, sample_scene
from movseg.types import intervals_from_mask


@dataclass
class SynthScene:
    """A rendered scene and its exact ground truth.

    Attributes:
        name: ``"<preset>-<seed>-<index>"`` (zero-padded index).
        frames: ``uint8 (T, H, W, 3)`` RGB, exactly as decoded from the JPEGs written to disk.
        jpeg: the encoded frames.
        instances: ``uint8 (T, H, W)`` 0 = scenery, k = object k (static or moving).
        masks: ``uint8 (T, H, W)`` only objects that move at some point, ids kept.
        depth: ``float32 (T, H, W)`` camera-space z (1000 where nothing is hit).
        tracks: ``xy float32 (N, T, 2)``, ``visible bool (N, T)``, ``object_id int32 (N,)``,
            ``query_frame int32 (N,)``, ``moving bool (N, T)``.
        moving: ``bool (K, T)`` per object and frame.
        meta: JSON-ready description (seed, fps, size, intrinsics, poses, objects).
    """

    name: str
    frames: np.ndarray
    jpeg: list
    instances: np.ndarray
    masks: np.ndarray
    depth: np.ndarray
    tracks: dict
    moving: np.ndarray
    meta: dict


def resolve_preset(preset: str | Preset, frames: int | None = None, size: tuple[int, int] | None = None) -> Preset:
    p = PRESETS[preset] if isinstance(preset, str) else preset
    if frames is not None:
        p = replace(p, frames=frames)
    if size is not None:
        p = replace(p, size=tuple(size))
    return p


def generate_scene(seed: int, index: int = 0, preset: str | Preset = "train", frames: int | None = None,
                   size: tuple[int, int] | None = None) -> SynthScene:
    """Render scene ``index`` of the set with base ``seed``."""
    p = resolve_preset(preset, frames, size)
    spec = sample_scene(seed, p, index)
    rendered = [render_frame(spec, t) for t in range(p.frames)]
    jpeg, frames_out = [], []
    for t, r in enumerate(rendered):
        img = sensor(r.rgb, spec, t)
        ok, buf = cv2.imencode(".jpg", img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, spec.jpeg_quality])
        jpeg.append(buf.tobytes())
        frames_out.append(cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1])
    instances = np.stack([r.instance for r in rendered])
    ever = np.concatenate([[False], spec.moving.any(axis=1)])  # index = object id
    masks = np.where(ever[instances], instances, 0).astype(np.uint8)
    tracks = project_tracks(spec, rendered, query_points(rendered, p.grid, p.query_step))
    name = f"{p.name}-{seed}-{index:05d}"
    return SynthScene(name, np.stack(frames_out), jpeg, instances, masks,
                      np.stack([r.depth for r in rendered]).astype(np.float32), tracks, spec.moving, _meta(spec, name, index))


def _meta(spec: SceneSpec, name: str, index: int) -> dict:
    cam = spec.camera
    poses = []
    for R, C in zip(cam.R, cam.C):
        M = np.eye(4)
        M[:3, :3], M[:3, 3] = R, -R @ C
        poses.append(np.round(M, 6).tolist())
    objects = []
    for o in spec.info["objects"]:
        k = o["id"]
        objects.append({**o, "moving": intervals_from_mask(spec.moving[k - 1])})
    trans, rot = cam.speed()
    return {
        "name": name,
        "seed": spec.seed,
        "index": index,
        "fps": spec.preset.fps,
        "size": list(spec.preset.size),
        "intrinsics": np.round(cam.K[0], 6).tolist(),
        "focal_per_frame": np.round(cam.K[:, 0, 0], 4).tolist(),
        "world_to_camera": poses,
        "camera": {**spec.info["camera"], "speed_m_per_frame": trans, "rotation_deg_per_frame": rot},
        "objects": objects,
        "light": spec.light.round(4).tolist(),
        "noise_sigma": spec.noise_sigma,
        "jpeg_quality": spec.jpeg_quality,
    }


def iter_scenes(seed: int, count: int, preset: str | Preset = "train", start: int = 0, **kw) -> Iterator[SynthScene]:
    """Scenes ``start .. start+count-1`` of the set with base ``seed``, rendered on the fly."""
    for i in range(start, start + count):
        yield generate_scene(seed, i, preset, **kw)


def write_scene(scene: SynthScene, out_root: str | Path) -> Path:
    """Write ``<out_root>/<scene.name>/`` atomically (layout in the module docs of ``movseg.synth``)."""
    from movseg.io.masks import write_mask
    from movseg.io.results import atomic_directory

    final = Path(out_root) / scene.name
    with atomic_directory(final) as tmp:
        for sub in ("frames", "instances", "masks"):
            (tmp / sub).mkdir()
        for t, data in enumerate(scene.jpeg):
            (tmp / "frames" / f"{t:05d}.jpg").write_bytes(data)
            write_mask(tmp / "instances" / f"{t:05d}.png", scene.instances[t])
            write_mask(tmp / "masks" / f"{t:05d}.png", scene.masks[t])
        # float32, rounded to half precision (0.05 % of z) so that it compresses ~10x
        np.savez_compressed(tmp / "depth.npz", depth=scene.depth.astype(np.float16).astype(np.float32))
        np.savez_compressed(tmp / "tracks.npz", **scene.tracks)
        (tmp / "meta.json").write_text(json.dumps(scene.meta, indent=1) + "\n")
    return final


def contact_sheet(scenes: list[SynthScene], frames_per_scene: int = 4, width: int = 320) -> np.ndarray:
    """A grid image ``uint8 (h, w, 3)``: one row per scene, frames with moving-object masks overlaid
    (static objects outlined in white) — to see what the data looks like."""
    from movseg.io.masks import DAVIS_PALETTE

    rows = []
    for sc in scenes:
        T = len(sc.frames)
        cells = []
        for t in np.linspace(0, T - 1, frames_per_scene).round().astype(int):
            img = sc.frames[t].astype(np.float32)
            m = sc.masks[t]
            moving_now = np.zeros(256, bool)
            moving_now[1 : sc.moving.shape[0] + 1] = sc.moving[:, t]
            fg = m > 0
            img[fg] = img[fg] * 0.4 + DAVIS_PALETTE[m][fg] * 0.6 * np.where(moving_now[m][fg], 1.0, 0.4)[:, None]
            img = img.astype(np.uint8)
            for k in np.unique(m[fg]):
                contours, _ = cv2.findContours((m == k).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
                cv2.drawContours(img, contours, -1, tuple(int(c) for c in DAVIS_PALETTE[k]), 2)
            static = ((sc.instances[t] > 0) & (m == 0)).astype(np.uint8)
            contours, _ = cv2.findContours(static, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(img, contours, -1, (255, 255, 255), 1)
            h = round(img.shape[0] * width / img.shape[1])
            cells.append(cv2.resize(img, (width, h), interpolation=cv2.INTER_AREA))
        rows.append(np.concatenate(cells, 1))
    return np.concatenate(rows, 0)


def _write_one(job) -> str:
    seed, index, preset, out_root = job
    cv2.setNumThreads(1)  # one scene per process: no nested threading
    return str(write_scene(generate_scene(seed, index, preset), out_root))


def write_scenes(out_root: str | Path, seed: int, count: int, preset: Preset, start: int = 0, workers: int = 1,
                 progress: bool = True) -> list[Path]:
    """Render and write scenes ``start .. start+count-1`` with ``workers`` processes (same files whatever the count)."""
    from tqdm import tqdm

    jobs = [(seed, i, preset, str(out_root)) for i in range(start, start + count)]
    bar = tqdm(total=count, unit="scene", disable=not progress, desc="synth")
    out = []
    if workers <= 1:
        for j in jobs:
            out.append(Path(_write_one(j)))
            bar.update()
    else:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers) as pool:
            for p in pool.imap(_write_one, jobs):
                out.append(Path(p))
                bar.update()
    bar.close()
    return out
