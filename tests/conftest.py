"""Shared test helpers: small synthetic clips with known answers."""

from __future__ import annotations

import numpy as np
import pytest


def textured(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth random texture ``uint8 (h, w, 3)`` that optical flow can lock onto."""
    import cv2

    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (h // 4 + 1, w // 4 + 1, 3), dtype=np.uint8)
    img = cv2.resize(base, (w, h), interpolation=cv2.INTER_CUBIC)
    return cv2.GaussianBlur(img, (3, 3), 0)


def moving_square_clip(T: int = 8, h: int = 96, w: int = 128, size: int = 28, speed: int = 3, seed: int = 0):
    """A static textured background and one textured square moving right.

    Returns (frames ``uint8 (T, h, w, 3)``, gt labels ``uint8 (T, h, w)``).
    """
    bg = textured(h, w, seed)
    fg = textured(size, size, seed + 1)
    frames = np.repeat(bg[None], T, axis=0)
    labels = np.zeros((T, h, w), np.uint8)
    y0 = h // 2 - size // 2
    for t in range(T):
        x0 = 10 + speed * t
        frames[t, y0 : y0 + size, x0 : x0 + size] = fg
        labels[t, y0 : y0 + size, x0 : x0 + size] = 1
    return frames, labels


def two_shot_clip(T: int = 8) -> np.ndarray:
    """Two shots of ``T`` frames, each a square moving over its own background, cut at frame ``T``:
    ``uint8 (2T, 96, 128, 3)``. The second background is fine-grained noise (the smooth textures of
    :func:`textured` are alike enough that flow matches half of the points across a cut between two of them)."""
    a, _ = moving_square_clip(T=T, seed=0)
    b, square = moving_square_clip(T=T, seed=7)
    b = np.where(square[..., None] > 0, b, np.random.default_rng(3).integers(0, 256, b.shape[1:], np.uint8))
    return np.concatenate([a, b])


@pytest.fixture
def square_clip():
    return moving_square_clip()


def write_frames(folder, frames, ext: str = "png", pattern: str = "{:05d}") -> list:
    """Write RGB frames as images named by ``pattern``; returns the paths."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, f in enumerate(frames):
        p = folder / f"{pattern.format(i)}.{ext}"
        cv2.imwrite(str(p), f[:, :, ::-1])
        paths.append(p)
    return paths


def tiny_sam2(folder) -> str:
    """Save a SAM2 video model with random weights and small sizes (256² input, 5 Hiera blocks) to
    ``folder`` as ``Sam2VideoModel.save_pretrained`` writes a checkpoint; returns the folder. The sizes
    keep what the model's code assumes: memory features of 64 channels, a hidden size that is a multiple
    of them, no global-attention block at a stage's first block."""
    import torch
    from transformers import Sam2HieraDetConfig, Sam2VideoConfig, Sam2VideoModel, Sam2VisionConfig

    S, C = 256, 128
    backbone = Sam2HieraDetConfig(hidden_size=16, image_size=[S, S], blocks_per_stage=[1, 1, 2, 1],
                                  embed_dim_per_stage=[16, 32, 64, 128], num_attention_heads_per_stage=[1, 1, 1, 1],
                                  window_size_per_stage=[8, 4, 4, 2], global_attention_blocks=[3],
                                  window_positional_embedding_background_size=[4, 4])
    vision = Sam2VisionConfig(backbone_config=backbone, backbone_channel_list=[128, 64, 32, 16],
                              backbone_feature_sizes=[[S // 4] * 2, [S // 8] * 2, [S // 16] * 2], fpn_hidden_size=C)
    config = Sam2VideoConfig(
        vision_config=vision, image_size=S, prompt_encoder_config=dict(hidden_size=C, image_size=S, patch_size=16),
        mask_decoder_config=dict(hidden_size=C, mlp_dim=64, num_attention_heads=2, iou_head_hidden_dim=C),
        memory_attention_hidden_size=C, memory_attention_num_layers=1, memory_attention_feed_forward_hidden_size=64,
        memory_attention_rope_feat_sizes=[S // 16] * 2, memory_encoder_hidden_size=C, memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=C, memory_fuser_embed_dim=C, memory_fuser_intermediate_dim=64)
    torch.manual_seed(0)
    Sam2VideoModel(config).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="session")
def sam2_checkpoint(tmp_path_factory):
    pytest.importorskip("transformers")
    return tiny_sam2(tmp_path_factory.mktemp("sam2"))
