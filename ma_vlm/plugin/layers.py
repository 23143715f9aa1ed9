"""The plugin's trainable layers: a depth projector, a 3D position encoding and gated cross-attention.

Every layer that adds to an existing signal starts at exactly zero effect (zero-initialised
output layer, or a tanh gate at 0), so a freshly plugged MLLM gives its original logits.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def resample_grid(values: torch.Tensor, source_grid, target_grid) -> torch.Tensor:
    """(B, Hs*Ws, C) on `source_grid` -> (B, Ht*Wt, C) on `target_grid` (bilinear, anti-aliased when shrinking)."""
    if tuple(source_grid) == tuple(target_grid):
        return values
    batch, _, channels = values.shape
    image = values.transpose(1, 2).reshape(batch, channels, *source_grid)
    shrinking = target_grid[0] < source_grid[0] or target_grid[1] < source_grid[1]
    image = F.interpolate(image.float(), size=tuple(target_grid), mode="bilinear", align_corners=False,
                          antialias=shrinking).to(values.dtype)  # fmt: skip
    return image.flatten(2).transpose(1, 2)


class DepthProjector(nn.Module):
    """[tower tokens (D), log metric depth (1)] -> LLM embeddings (H): Linear, GELU, Linear.

    zero_init: the last layer starts at zero so that adding its output changes nothing.
    """

    def __init__(self, tower_size: int, llm_size: int, zero_init: bool):
        super().__init__()
        self.fc1 = nn.Linear(tower_size + 1, llm_size)
        self.fc2 = nn.Linear(llm_size, llm_size)
        if zero_init:
            nn.init.zeros_(self.fc2.weight)
            nn.init.zeros_(self.fc2.bias)

    def forward(self, tokens: torch.Tensor, token_depth: torch.Tensor) -> torch.Tensor:
        """tokens (B, N, D), token_depth (B, N) metres -> (B, N, H)."""
        log_depth = token_depth.clamp_min(1e-3).log()[..., None].to(tokens.dtype)
        return self.fc2(F.gelu(self.fc1(torch.cat([tokens, log_depth], dim=-1))))


class PositionEncoding3D(nn.Module):
    """A learned encoding of camera-frame points (B, N, 3) metres -> (B, N, H), zero at init.

    Points are first squashed to log scale along their ray (p * log1p(|p|) / |p|), so 0.5 m and
    50 m are both in a range Fourier features resolve; then sin/cos at `num_bands` octaves and an
    MLP whose output layer starts at zero.
    """

    def __init__(self, llm_size: int, num_bands: int = 8, hidden_size: int = 256):
        super().__init__()
        self.register_buffer("frequencies", math.pi * 2.0 ** torch.arange(num_bands, dtype=torch.float32),
                             persistent=False)  # fmt: skip
        self.fc1 = nn.Linear(3 + 6 * num_bands, hidden_size)
        self.fc2 = nn.Linear(hidden_size, llm_size)
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, token_points: torch.Tensor) -> torch.Tensor:
        points = token_points.float()
        norm = points.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        squashed = points * (torch.log1p(norm) / norm)
        angles = squashed[..., None] * self.frequencies  # (B, N, 3, bands)
        features = torch.cat([squashed, angles.sin().flatten(-2), angles.cos().flatten(-2)], dim=-1)
        features = features.to(self.fc1.weight.dtype)
        return self.fc2(F.gelu(self.fc1(features)))


class GatedCrossAttention(nn.Module):
    """Flamingo-style block after an LLM decoder layer: text attends to depth tokens.

    h = h + tanh(attn_gate) * Attn(LN(h), memory); h = h + tanh(ffn_gate) * FFN(LN(h)).
    Both gates start at 0, so the block is the identity until trained.
    """

    def __init__(self, llm_size: int, num_heads: int):
        super().__init__()
        self.attention_norm = nn.LayerNorm(llm_size)
        self.attention = nn.MultiheadAttention(llm_size, num_heads, batch_first=True)
        self.ffn_norm = nn.LayerNorm(llm_size)
        self.ffn = nn.Sequential(nn.Linear(llm_size, 4 * llm_size), nn.GELU(), nn.Linear(4 * llm_size, llm_size))
        self.attn_gate = nn.Parameter(torch.zeros(1))
        self.ffn_gate = nn.Parameter(torch.zeros(1))

    def forward(self, hidden: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """hidden (B, T, H), memory (B, M, H) -> (B, T, H)."""
        query = self.attention_norm(hidden)
        attended, _ = self.attention(query, memory.to(query.dtype), memory.to(query.dtype), need_weights=False)
        hidden = hidden + torch.tanh(self.attn_gate).to(hidden.dtype) * attended
        return hidden + torch.tanh(self.ffn_gate).to(hidden.dtype) * self.ffn(self.ffn_norm(hidden))
