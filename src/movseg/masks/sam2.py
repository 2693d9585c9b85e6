"""SAM2 as a promptable segmenter: ``--segmenter sam2 --sam2-checkpoint DIR``.

The model is Hugging Face transformers' ``Sam2VideoModel``, loaded from a local folder (``config.json`` and
``model.safetensors``, as ``hf download facebook/sam2.1-hiera-tiny --local-dir DIR`` writes it on a machine
that can reach the hub); nothing is downloaded at run time. transformers' processor classes need
torchvision, which movseg never depends on, so frames and points are prepared here as SAM2 expects them:
RGB resized to the model's square input, ImageNet mean and std; points in that square's pixels.

Frames are prepared when the model asks for them (a 1024² float frame is 12 MB; a video's worth would
not fit a laptop), so memory holds the model, its per-object memories and a few frames' features.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np

from movseg.device import resolve_device
from movseg.errors import MovsegError
from movseg.masks import RecordingSegmenter, SegmenterState, register
from movseg.types import Video

_MEAN = (0.485, 0.456, 0.406)  # ImageNet RGB, as SAM2 was trained
_STD = (0.229, 0.224, 0.225)
_HINT = "download it where the hub is reachable (hf download facebook/sam2.1-hiera-tiny --local-dir DIR)"


def check_checkpoint(path: str | Path | None) -> Path:
    """The checkpoint folder ``path`` as a Path, or a one-line :class:`MovsegError` saying what is missing."""
    if not path:
        raise MovsegError(f"the sam2 segmenter needs a local checkpoint: pass --sam2-checkpoint DIR; {_HINT}")
    folder = Path(path)
    if not (folder / "config.json").is_file():
        raise MovsegError(f"no SAM2 checkpoint at {folder} (config.json missing); {_HINT}")
    try:
        model_type = json.loads((folder / "config.json").read_text()).get("model_type")
    except (OSError, ValueError, AttributeError) as e:
        raise MovsegError(f"cannot read {folder / 'config.json'}: {e}") from None
    if model_type not in ("sam2_video", "sam2"):
        raise MovsegError(f"{folder} holds a {model_type!r} model, not SAM2; {_HINT}")
    if not any(folder.glob("*.safetensors")):
        raise MovsegError(f"no .safetensors weights in {folder} (movseg never unpickles .pt/.bin files); {_HINT}")
    try:
        import transformers  # noqa: F401
    except ImportError:
        raise MovsegError("the sam2 segmenter needs transformers: pip install 'movseg[sam2]'") from None
    return folder


@lru_cache(maxsize=1)
def _load(folder: str, device: str, dtype: str):
    """The SAM2 model in ``folder`` on ``device``, kept for the next call with the same arguments (a long
    video builds a segmenter for each of its pieces)."""
    import torch
    from transformers import Sam2VideoModel

    try:
        model = Sam2VideoModel.from_pretrained(folder, local_files_only=True, dtype=getattr(torch, dtype))
    except (OSError, ValueError, RuntimeError) as e:
        raise MovsegError(f"cannot load SAM2 from {folder}: {str(e).splitlines()[0]}") from None
    return model.to(device).eval()


@dataclass
class Sam2SegmenterConfig:
    checkpoint: str | None = None  # local Hugging Face SAM2 folder (config.json + model.safetensors)
    device: str = "auto"  # torch device the model runs on (auto: cuda, mps, cpu)
    dtype: str = "float32"  # float32, float16 or bfloat16 (half precision is meant for GPUs; it runs on CPUs too)
    threshold: float = 0.0  # a pixel is on an object where its mask logit exceeds this


class _Frames(Mapping):
    """``frame index → float (3, S, S)``: the video's frames prepared for SAM2 when asked for."""

    def __init__(self, video: Video, side: int, device, dtype):
        import torch

        self.video, self.side, self.device, self.dtype = video, side, device, dtype
        self.mean = torch.tensor(_MEAN, device=device)[:, None, None]
        self.std = torch.tensor(_STD, device=device)[:, None, None]

    def __getitem__(self, f: int):
        import torch
        import torch.nn.functional as F

        if not 0 <= f < self.video.num_frames:
            raise KeyError(f)
        x = torch.from_numpy(np.ascontiguousarray(self.video.frames[f])).to(self.device)
        x = x.permute(2, 0, 1)[None].float() / 255.0  # (1, 3, H, W) RGB in [0, 1]
        x = F.interpolate(x, (self.side, self.side), mode="bilinear", align_corners=False, antialias=True)[0]
        return ((x - self.mean) / self.std).to(self.dtype)

    def __iter__(self):
        return iter(range(self.video.num_frames))

    def __len__(self) -> int:
        return self.video.num_frames


@register("sam2")
class Sam2Segmenter(RecordingSegmenter):
    """SAM2's video predictor behind movseg's segmenter interface.

    Each object is prompted on a few frames with a few points (``dense_prompts = False``: the prompting
    stage sends SegAnyMo's densest point and two farthest points, again every few frames). ``propagate``
    runs SAM2 backwards from the last frame where an object is first prompted, then forwards from the
    first one; an object's mask on a frame before its own first prompt comes from the backward pass, on
    the others from the forward pass. Where objects overlap, the pixel goes to the highest logit.
    """

    dense_prompts = False

    @staticmethod
    def check(**config) -> Path:
        """Fail now, in one line, on settings that would fail at the masks stage; returns the checkpoint folder."""
        try:
            c = Sam2SegmenterConfig(**config)
        except TypeError as e:
            raise MovsegError(f"sam2 segmenter: {e}") from None
        if c.dtype not in ("float32", "float16", "bfloat16"):
            raise MovsegError(f"unknown dtype {c.dtype!r}: choose float32, float16 or bfloat16")
        resolve_device(c.device)
        return check_checkpoint(c.checkpoint)

    def __init__(self, **config):
        folder = self.check(**config)
        self.config = c = Sam2SegmenterConfig(**config)
        self.device = resolve_device(c.device)
        self.model = _load(str(folder.resolve()), self.device, c.dtype)
        self.side = int(self.model.config.image_size)

    def propagate(self, state: SegmenterState) -> Iterator[tuple[int, list[int], np.ndarray]]:
        """Yield ``(frame, obj_ids, masks bool (K, H, W))`` for every frame in order."""
        import torch

        obj_ids = sorted({k for per in state.prompts.values() for k in per})
        T, H, W = state.video.num_frames, state.video.height, state.video.width
        if not obj_ids:
            for f in range(T):
                yield f, [], np.zeros((0, H, W), bool)
            return
        first = {k: min(f for f, per in state.prompts.items() if k in per) for k in obj_ids}
        with torch.inference_mode():
            session = self._session(state)
            back: dict[int, dict[int, torch.Tensor]] = {}  # frame -> object -> low-res logits, before its first prompt
            for out in self.model.propagate_in_video_iterator(session, start_frame_idx=max(first.values()), reverse=True):
                for k, logit in zip(out.object_ids, out.pred_masks):
                    if out.frame_idx < first[k]:
                        back.setdefault(out.frame_idx, {})[k] = logit.to("cpu", torch.float16)
            start = min(first.values())
            for f in range(start):
                yield f, obj_ids, self._masks([back.get(f, {}).get(k) for k in obj_ids], H, W)
            for out in self.model.propagate_in_video_iterator(session, start_frame_idx=start):
                f, got = out.frame_idx, dict(zip(out.object_ids, out.pred_masks))
                logits = [back.get(f, {}).get(k) if f < first[k] else got.get(k) for k in obj_ids]
                yield f, obj_ids, self._masks(logits, H, W)

    def _session(self, state: SegmenterState):
        """A transformers inference session with every prompt added, frame by frame in order (SAM2 turns a
        frame's prompts into that frame's conditioning output when it is added)."""
        import torch
        from transformers.models.sam2_video.modeling_sam2_video import Sam2VideoInferenceSession

        c, video = self.config, state.video
        dtype = getattr(torch, c.dtype)
        session = Sam2VideoInferenceSession(video_height=video.height, video_width=video.width, inference_device=self.device,
                                            inference_state_device=self.device, video_storage_device=self.device, dtype=dtype)
        session.processed_frames = _Frames(video, self.side, self.device, dtype)
        scale = torch.tensor([self.side / video.width, self.side / video.height])
        for f in sorted(state.prompts):
            for k, (pts, lab) in sorted(state.prompts[f].items()):
                idx = session.obj_id_to_idx(k)
                xy = torch.from_numpy(pts) * scale  # in the model's square, scaled as SAM2's own predictor does
                session.add_point_inputs(idx, f, {"point_coords": xy[None, None].to(dtype),
                                                  "point_labels": torch.from_numpy(lab).to(torch.int32)[None, None]})
                session.remove_mask_inputs(idx, f)
                session.obj_with_new_inputs = [k]
                self.model(session, frame_idx=f)
        return session

    def _masks(self, logits: list, H: int, W: int) -> np.ndarray:
        """``bool (K, H, W)`` non-overlapping masks from per-object low-res logits ``(1, h, w)`` (or None)."""
        import torch
        import torch.nn.functional as F

        out = np.zeros((len(logits), H, W), bool)
        have = [i for i, x in enumerate(logits) if x is not None]
        if not have:
            return out
        x = torch.stack([logits[i].float().cpu() for i in have])  # (k, 1, h, w)
        x = F.interpolate(x, (H, W), mode="bilinear", align_corners=False)[:, 0]
        best, arg = x.max(0)
        on = (best > self.config.threshold).numpy()
        arg = arg.numpy()
        for j, i in enumerate(have):
            out[i] = on & (arg == j)
        return out
