"""The track transformer (SegAnyMo): which long-range tracks belong to independently moving objects.

Per track and frame: γ(u), γ(v), γ(Δu), γ(Δv) (NeRF-style frequency encoding),
visibility, confidence, the geometric residuals of :mod:`movseg.motion.cues`
and, when configured, depth and its change → MLP → encoder with
Spatio-Temporal Trajectory Attention (layers alternate attention along time
within a track and across tracks within a frame) → masked max-pool over time →
decoder with Motion-Semantic Decoupled Embedding (self-attention on motion
features only; the appearance/semantic descriptor is joined *after* attention
through a feed-forward layer into a memory that the motion features
cross-attend to) → MLP → logit of P(dynamic).

Invalid points (invisible or low confidence) enter as a learned mask token,
are never attended to and never pooled, so their values cannot change the
output. Every attention sequence starts with a learned, always-valid sink
token, so a track or frame without valid points is well defined.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from movseg.motion.cues import APPEARANCE_CHANNELS, DEPTH_CHANNELS, POINT_CHANNELS


@dataclass(frozen=True)
class MotionModelConfig:
    geometric: bool = True  # read the geometric residual channels (res_h1, res_hk, res_fk)
    depth: bool = False  # read the depth channels (needs a depth backend at inference)
    appearance_dim: int = len(APPEARANCE_CHANNELS)  # per-track appearance/semantic channels; 0 = none
    freqs: int = 6  # frequency bands of γ; 0 = raw coordinates (ablation "w/o PE")
    delta_scale: float = 10.0  # Δu, Δv are multiplied by this before γ (they are small)
    dim: int = 64  # token width
    enc_layers: int = 2  # encoder layers (each: temporal + spatial attention when st_attention)
    enc_heads: int = 4  # paper: 4
    enc_ff: int = 64  # paper: 64
    st_attention: bool = True  # False: attention along time only (ablation "w/o ST-ATT")
    dec_layers: int = 2
    dec_heads: int = 8  # paper: 8
    dec_ff: int = 512  # paper: 512
    msde: bool = True  # False: appearance joins the encoder input instead (ablation "w/o MSDE")

    @property
    def point_channels(self) -> int:
        return len(POINT_CHANNELS) + (len(DEPTH_CHANNELS) if self.depth else 0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MotionModelConfig":
        unknown = unknown_fields(cls, d)
        if unknown:
            raise ValueError(f"unknown model config fields {unknown}")
        return cls(**d)


def unknown_fields(cls, d: dict) -> list[str]:
    """Keys of ``d`` that are not fields of dataclass ``cls``, sorted."""
    return sorted(set(d) - {f.name for f in fields(cls)})


def frequency_encoding(x: torch.Tensor, freqs: int) -> torch.Tensor:
    """γ(x) = [x, sin(2^k π x), cos(2^k π x)]_{k<freqs}: ``(..., C)`` → ``(..., C (1 + 2 freqs))``."""
    if freqs == 0:
        return x
    bands = (2.0 ** torch.arange(freqs, dtype=x.dtype, device=x.device)) * math.pi  # (L,)
    ang = x[..., None] * bands  # (..., C, L)
    return torch.cat([x, ang.sin().flatten(-2), ang.cos().flatten(-2)], -1)


class Block(nn.Module):
    """Pre-norm self-attention + feed-forward over ``(B, L, D)`` with a key-validity mask ``(B, L)``;
    a learned sink token is prepended so every query has a valid key."""

    def __init__(self, dim: int, heads: int, ff: int):
        super().__init__()
        self.heads = heads
        self.sink = nn.Parameter(torch.zeros(1, 1, dim))
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ff = nn.Sequential(nn.Linear(dim, ff), nn.GELU(), nn.Linear(ff, dim))

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        x = torch.cat([self.sink.expand(b, 1, d), x], 1)  # (B, 1 + L, D)
        keys = torch.cat([valid.new_ones(b, 1), valid], 1)  # (B, 1 + L)
        q, k, v = self.qkv(self.norm1(x)).view(b, n + 1, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=keys[:, None, None, :])  # (B, h, 1 + L, D/h)
        x = x + self.proj(a.transpose(1, 2).reshape(b, n + 1, d))
        x = x + self.ff(self.norm2(x))
        return x[:, 1:]


class CrossBlock(nn.Module):
    """Queries ``(B, N, D)`` attend to a memory ``(B, N, D)`` (key mask ``(B, N)``), then feed-forward."""

    def __init__(self, dim: int, heads: int, ff: int):
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.sink = nn.Parameter(torch.zeros(1, 1, dim))
        self.norm_q, self.norm_m, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, ff), nn.GELU(), nn.Linear(ff, dim))

    def forward(self, x: torch.Tensor, memory: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        b, _, d = memory.shape
        mem = torch.cat([self.sink.expand(b, 1, d), self.norm_m(memory)], 1)
        keys = torch.cat([valid.new_ones(b, 1), valid], 1)
        a, _ = self.attn(self.norm_q(x), mem, mem, key_padding_mask=~keys, need_weights=False)
        x = x + a
        return x + self.ff(self.norm2(x))


class TrackTransformer(nn.Module):
    """``forward(points, valid, appearance, tracks_valid) -> logits``.

    Args:
        points: ``float32 (B, N, T, F)`` channels of :data:`~movseg.motion.cues.POINT_CHANNELS`
            (+ depth channels).
        valid: ``bool (B, N, T)`` valid points.
        appearance: ``float32 (B, N, A)``.
        tracks_valid: ``bool (B, N)``; False marks padding tracks (default: all True).
        t0: index of the first frame, for the time embedding (training may offset its windows).

    Returns:
        ``float32 (B, N)`` logits of P(track belongs to an independently moving object).
    """

    def __init__(self, config: MotionModelConfig | None = None):
        super().__init__()
        c = self.config = config or MotionModelConfig()
        self.threshold: float | None = None  # grouping threshold chosen for trained weights (set by load_model)
        # the mean P from which the masks stage trusts a small object, chosen for trained weights (set by load_model)
        self.small_min_score: float | None = None
        enc_in = 4 * (1 + 2 * c.freqs) + 2 + (3 if c.geometric else 0) + (2 if c.depth else 0)
        if not c.msde:
            enc_in += c.appearance_dim
        self.embed = nn.Sequential(nn.Linear(enc_in, c.dim), nn.GELU(), nn.Linear(c.dim, c.dim))  # MLP 1
        self.mask_token = nn.Parameter(torch.zeros(c.dim))
        self.temporal = nn.ModuleList(Block(c.dim, c.enc_heads, c.enc_ff) for _ in range(c.enc_layers))
        self.spatial = nn.ModuleList(Block(c.dim, c.enc_heads, c.enc_ff) for _ in range(c.enc_layers))
        sem = c.appearance_dim if c.msde else 0
        self.motion_attn = nn.ModuleList(Block(c.dim, c.dec_heads, c.dec_ff) for _ in range(c.dec_layers))
        self.semantic_ff = nn.ModuleList(
            nn.Sequential(nn.Linear(c.dim + sem, c.dec_ff), nn.GELU(), nn.Linear(c.dec_ff, c.dim))
            for _ in range(c.dec_layers))
        self.cross = nn.ModuleList(CrossBlock(c.dim, c.dec_heads, c.dec_ff) for _ in range(c.dec_layers))
        self.head = nn.Sequential(nn.LayerNorm(c.dim), nn.Linear(c.dim, c.dim), nn.GELU(), nn.Linear(c.dim, 1))  # MLP 2

    def _tokens(self, points: torch.Tensor, valid: torch.Tensor, appearance: torch.Tensor, t0: int) -> torch.Tensor:
        c = self.config
        uv, duv = points[..., 0:2], points[..., 2:4] * c.delta_scale
        parts = [frequency_encoding(torch.cat([uv, duv], -1), c.freqs), points[..., 4:6]]
        if c.geometric:
            parts.append(points[..., 6:9])
        if c.depth:
            parts.append(points[..., 9:11])
        if not c.msde and c.appearance_dim:
            parts.append(appearance[:, :, None, :].expand(*points.shape[:3], c.appearance_dim))
        x = self.embed(torch.cat(parts, -1))  # (B, N, T, D)
        x = torch.where(valid[..., None], x, self.mask_token)
        t = points.shape[2]
        return x + _time_embedding(t0, t, c.dim, x.device, x.dtype)  # (B, N, T, D)

    def forward(self, points, valid, appearance, tracks_valid=None, t0: int = 0):
        b, n, t, _ = points.shape
        if tracks_valid is None:
            tracks_valid = torch.ones(b, n, dtype=torch.bool, device=points.device)
        valid = valid & tracks_valid[..., None]
        x = self._tokens(points, valid, appearance, t0)
        d = x.shape[-1]
        # inference skips invalid tokens (same result); in training, on small batches, the gathering costs more
        run = (lambda block, xr, vr: block(xr, vr)) if self.training else valid_only
        for temporal, spatial in zip(self.temporal, self.spatial):
            x = run(temporal, x.reshape(b * n, t, d), valid.reshape(b * n, t)).view(b, n, t, d)
            if self.config.st_attention:  # across tracks, frame by frame
                xs = run(spatial, x.transpose(1, 2).reshape(b * t, n, d), valid.transpose(1, 2).reshape(b * t, n))
                x = xs.view(b, t, n, d).transpose(1, 2)
            else:  # plain: a second attention along time
                x = run(spatial, x.reshape(b * n, t, d), valid.reshape(b * n, t)).view(b, n, t, d)
        pooled = x.masked_fill(~valid[..., None], float("-inf")).amax(2)  # (B, N, D)
        m = torch.where(valid.any(2)[..., None], pooled, torch.zeros_like(pooled))
        for attn, sem_ff, cross in zip(self.motion_attn, self.semantic_ff, self.cross):
            m = attn(m, tracks_valid)  # motion-only self-attention across tracks
            joined = torch.cat([m, appearance], -1) if (self.config.msde and self.config.appearance_dim) else m
            m = cross(m, sem_ff(joined), tracks_valid)  # semantics joined after attention, as memory
        return self.head(m).squeeze(-1)


def valid_only(block: Block, x: torch.Tensor, valid: torch.Tensor, buckets: int = 4) -> torch.Tensor:
    """``block(x, valid)`` computed on the valid tokens only, ``(R, L, D)`` → ``(R, L, D)``.

    A block's output at a valid token depends only on the valid tokens of its row (invalid ones are
    never keys, and every other operation is per token), so each row's valid tokens are gathered to
    its front, rows are sorted by how many they have and run in ``buckets`` groups cropped to the
    group's longest, and the results are put back. Outputs at invalid tokens are left as they came in
    (nothing downstream reads them). Same result as ``block(x, valid)`` at the valid tokens, up to the
    order of float sums; tracks are valid on ~25–85 % of the frames on DAVIS, so this saves that share
    of the encoder's work.
    """
    r, l, d = x.shape
    count = valid.sum(1)  # (R,)
    front = torch.argsort((~valid).to(torch.uint8), dim=1, stable=True)  # (R, L): valid positions first
    rows_by_count = torch.argsort(count)
    rows_by_count = rows_by_count[count[rows_by_count] > 0]
    out = x.clone()
    for rows in torch.tensor_split(rows_by_count, min(buckets, max(1, len(rows_by_count)))):
        if len(rows) == 0:
            continue
        length = int(count[rows].max())
        pos = front[rows, :length]  # (r, length)
        keep = torch.arange(length, device=x.device) < count[rows, None]  # (r, length)
        y = block(x[rows[:, None], pos], keep)  # (r, length, D)
        out[rows[:, None].expand_as(pos)[keep], pos[keep]] = y[keep]
    return out


def _time_embedding(t0: int, t: int, dim: int, device, dtype) -> torch.Tensor:
    """Sinusoidal embedding of frame indices ``t0 .. t0 + T - 1``, ``(T, D)``."""
    pos = torch.arange(t0, t0 + t, device=device, dtype=dtype)[:, None]
    div = torch.exp(torch.arange(0, dim, 2, device=device, dtype=dtype) * (-math.log(1000.0) / dim))
    emb = torch.zeros(t, dim, device=device, dtype=dtype)
    emb[:, 0::2] = torch.sin(pos * div)
    emb[:, 1::2] = torch.cos(pos * div)
    return emb
