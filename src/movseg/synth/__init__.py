"""Procedural moving-object videos with exact ground truth (training data, tests, demo).

    from movseg.synth import generate_scene
    scene = generate_scene(seed=0, index=3, preset="train")
    scene.frames      # uint8 (T, H, W, 3)
    scene.instances   # uint8 (T, H, W), every object
    scene.tracks      # dict: xy (N, T, 2), visible, object_id, query_frame, moving

Scene ``index`` of a set with base ``seed`` is the same whatever the set's size.
"""

from movseg.synth.generate import SynthScene, generate_scene, iter_scenes, write_scene
from movseg.synth.scene import PRESETS, Preset

__all__ = ["PRESETS", "Preset", "SynthScene", "generate_scene", "iter_scenes", "write_scene"]
