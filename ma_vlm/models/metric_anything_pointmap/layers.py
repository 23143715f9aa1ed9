"""Building blocks of the point-map network: DINOv2 position interpolation as published, the
residual conv block, the 2x upsamplers, the multi-level conv stack and the view-plane (u, v) map.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F
from transformers.models.dinov2.modeling_dinov2 import Dinov2Embeddings


class PointMapDinov2Embeddings(Dinov2Embeddings):
    """Transformers' DINOv2 embeddings with the original DINOv2 position interpolation.

    Transformers resizes the position grid to the target size; the DINOv2 code MoGe runs passes
    a scale factor of (tokens + 0.1) / 37 instead, which samples the grid at slightly different
    places. Converted checkpoints must see the embeddings they were trained with.
    """

    def __init__(self, config, interpolate_offset: float = 0.1):
        super().__init__(config)
        self.interpolate_offset = interpolate_offset

    def interpolate_pos_encoding(self, embeddings: torch.Tensor, height: int, width: int) -> torch.Tensor:
        num_positions = self.position_embeddings.shape[1] - 1
        if embeddings.shape[1] - 1 == num_positions and height == width:
            return self.position_embeddings
        rows, cols = height // self.patch_size, width // self.patch_size
        side = int(math.sqrt(num_positions))
        dim = embeddings.shape[-1]
        grid = self.position_embeddings[:, 1:].float().reshape(1, side, side, dim).permute(0, 3, 1, 2)
        if self.interpolate_offset:
            size_or_scale = {"scale_factor": ((rows + self.interpolate_offset) / side,
                                              (cols + self.interpolate_offset) / side)}
        else:
            size_or_scale = {"size": (rows, cols)}
        grid = F.interpolate(grid, mode="bicubic", antialias=False, **size_or_scale)
        grid = grid.permute(0, 2, 3, 1).flatten(1, 2)
        cls = self.position_embeddings[:, :1].float()
        return torch.cat([cls, grid], dim=1).to(self.position_embeddings.dtype)


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "group_norm":
        return nn.GroupNorm(channels // 32, channels)
    if kind == "layer_norm":
        return nn.GroupNorm(1, channels)
    return nn.Identity()


class PointMapResidualBlock(nn.Module):
    """x + conv(act(norm(conv(act(norm(x)))))), 3x3 convs with replicate padding, ReLU."""

    def __init__(self, channels: int, in_norm: str = "none", hidden_norm: str = "none"):
        super().__init__()
        self.norm1 = _norm(in_norm, channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, padding_mode="replicate")
        self.norm2 = _norm(hidden_norm, channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, padding_mode="replicate")

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        residual = self.conv1(F.relu(self.norm1(hidden)))
        return hidden + self.conv2(F.relu(self.norm2(residual)))


class PointMapUpsampler(nn.Module):
    """2x upsampling (transposed 2x2 conv, or bilinear / nearest) followed by a 3x3 conv."""

    def __init__(self, in_channels: int, out_channels: int, kind: str):
        super().__init__()
        if kind == "conv_transpose":
            self.upsample = nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2)
            conv_in = out_channels
        else:
            self.upsample = nn.Upsample(scale_factor=2, mode=kind, align_corners=False if kind == "bilinear" else None)
            conv_in = in_channels
        self.conv = nn.Conv2d(conv_in, out_channels, 3, padding=1, padding_mode="replicate")

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.conv(self.upsample(hidden))


class PointMapConvStack(nn.Module):
    """Levels k = 0..L-1 at 2^k times the token grid. Level k adds a 1x1 projection of its input
    (when given), runs its residual blocks, emits an output (1x1 conv when `out_sizes[k]` is
    set, else the features) and upsamples into level k + 1."""

    def __init__(self, in_sizes, hidden_sizes, out_sizes, num_res_blocks, resamplers, in_norm, hidden_norm):
        super().__init__()
        self.input_projections = nn.ModuleList(
            nn.Conv2d(i, h, 1) if i is not None else nn.Identity() for i, h in zip(in_sizes, hidden_sizes)
        )
        self.upsamplers = nn.ModuleList(
            PointMapUpsampler(a, b, kind) for a, b, kind in zip(hidden_sizes[:-1], hidden_sizes[1:], resamplers)
        )
        self.res_blocks = nn.ModuleList(
            nn.Sequential(*(PointMapResidualBlock(h, in_norm, hidden_norm) for _ in range(n)))
            for h, n in zip(hidden_sizes, num_res_blocks)
        )
        self.output_projections = nn.ModuleList(
            nn.Conv2d(h, o, 1) if o is not None else nn.Identity() for o, h in zip(out_sizes, hidden_sizes)
        )

    def forward(self, inputs: list[torch.Tensor | None]) -> list[torch.Tensor]:
        outputs, hidden = [], None
        for level, block in enumerate(self.res_blocks):
            if inputs[level] is not None:
                projected = self.input_projections[level](inputs[level])
                hidden = projected if hidden is None else hidden + projected
            hidden = block(hidden)
            outputs.append(self.output_projections[level](hidden))
            if level < len(self.upsamplers):
                hidden = self.upsamplers[level](hidden)
        return outputs


def view_plane_uv(height: int, width: int, aspect_ratio: float, dtype=None, device=None) -> torch.Tensor:
    """(2, H, W) view-plane coordinates of pixel centres, in units of the half diagonal of an image
    of `aspect_ratio` (corners near (+-w/d, +-h/d)): the network's cue for the aspect ratio."""
    span_x = aspect_ratio / math.sqrt(1 + aspect_ratio**2)
    span_y = 1 / math.sqrt(1 + aspect_ratio**2)
    u = torch.linspace(-span_x * (width - 1) / width, span_x * (width - 1) / width, width, dtype=dtype, device=device)
    v = torch.linspace(-span_y * (height - 1) / height, span_y * (height - 1) / height, height, dtype=dtype,
                       device=device)
    v_grid, u_grid = torch.meshgrid(v, u, indexing="ij")
    return torch.stack([u_grid, v_grid], dim=0)


def remap_points(raw: torch.Tensor, kind: str) -> torch.Tensor:
    """(..., 3) raw head output -> affine point map (`exp`: z = e^z', (x, y) = (x', y') z)."""
    if kind == "linear":
        return raw
    if kind == "sinh":
        return torch.sinh(raw)
    xy, z = raw.split([2, 1], dim=-1)
    if kind == "exp":
        z = torch.exp(z)
        return torch.cat([xy * z, z], dim=-1)
    return torch.cat([torch.sinh(xy), torch.exp(z)], dim=-1)  # sinh_exp
