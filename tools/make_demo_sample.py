"""Re-create the bundled sample clip ``samples/demo.mp4`` from the synthetic demo preset.

    python tools/make_demo_sample.py            # writes samples/demo.mp4 (+ its ground truth)

The clip is scene 6 of seed 0 of the ``demo`` preset (72 frames, 854x480,
24 fps); its moving-object masks go to ``samples/demo_gt/`` so the demo
result can be scored with ``movseg eval``.
"""

from pathlib import Path

from movseg.io import write_mask, write_video
from movseg.synth import generate_scene

ROOT = Path(__file__).resolve().parent.parent / "samples"

if __name__ == "__main__":
    scene = generate_scene(seed=0, index=6, preset="demo")
    ROOT.mkdir(exist_ok=True)
    write_video(ROOT / "demo.mp4", scene.frames, scene.meta["fps"], crf=23)
    gt = ROOT / "demo_gt" / "demo"
    gt.mkdir(parents=True, exist_ok=True)
    for t, m in enumerate(scene.masks):
        write_mask(gt / f"{t:05d}.png", m)
    print(f"wrote {ROOT / 'demo.mp4'} and {gt}")
