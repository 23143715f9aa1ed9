"""The official image pyramid: cut into overlapping tiles, and stitch tile features back.

Tiles of every level go through the ViT in one batch; the order is the official one
(level 0's tiles, level 1's, then level 2), row-major inside a level, and tile-major
inside the batch (all B images of tile 0, then tile 1, ...).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def tile_grid(image_size: int, tile_size: int, overlap: float) -> tuple[int, int]:
    """(steps per axis, stride in px) of the official `split` for a square image."""
    stride = int(tile_size * (1 - overlap))
    steps = int(math.ceil((image_size - tile_size) / stride)) + 1
    return steps, stride


def split_into_tiles(images: torch.Tensor, tile_size: int, overlap: float) -> torch.Tensor:
    """(B, C, S, S) -> (steps * steps * B, C, tile, tile), row-major, tile-major in the batch."""
    steps, stride = tile_grid(images.shape[-1], tile_size, overlap)
    tiles = [
        images[..., row * stride : row * stride + tile_size, col * stride : col * stride + tile_size]
        for row in range(steps)
        for col in range(steps)
    ]
    return torch.cat(tiles, dim=0)


def merge_tiles(tile_maps: torch.Tensor, steps: int, crop: int) -> torch.Tensor:
    """Stitch (steps * steps * B, D, t, t) tile feature maps into (B, D, H, W).

    Each tile loses `crop` tokens on every side it shares with a neighbour, so the kept parts
    tile the image exactly (for 384 px tiles at overlap 0.25: 21 + 18 + 18 + 18 + 21 = 96).
    """
    batch = tile_maps.shape[0] // (steps * steps)
    size = tile_maps.shape[-1]
    grid = tile_maps.view(steps, steps, batch, *tile_maps.shape[1:])
    rows = []
    for row in range(steps):
        top = crop if row > 0 else 0
        bottom = size - crop if row < steps - 1 else size
        cols = []
        for col in range(steps):
            left = crop if col > 0 else 0
            right = size - crop if col < steps - 1 else size
            cols.append(grid[row, col, :, :, top:bottom, left:right])
        rows.append(torch.cat(cols, dim=-1))
    return torch.cat(rows, dim=-2)


def build_pyramid(pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, 3, S, S) -> the three levels S, S/2, S/4 (bilinear, no antialias, as published)."""
    half = F.interpolate(pixel_values, scale_factor=0.5, mode="bilinear", align_corners=False)
    quarter = F.interpolate(pixel_values, scale_factor=0.25, mode="bilinear", align_corners=False)
    return pixel_values, half, quarter
