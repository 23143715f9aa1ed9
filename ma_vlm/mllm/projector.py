"""Projectors from the tower's visual tokens to the LLM's embedding space.

Every projector maps (B, N, D_vision) patch tokens on a square t x t grid to (B, M, D_text) with
M = `projected_token_count(N, type, reduction)`. Four types:

- `linear`: one Linear (the LLaVA-1 projector), M = N.
- `mlp`: Linear-GELU-Linear (the LLaVA-1.5 projector), M = N.
- `pixel_shuffle`: each r x r block of neighbouring tokens is concatenated into one token
  (D_vision * r^2 wide) before the MLP, M = N / r^2 (Idefics3/SmolVLM's space-to-depth).
- `avg_pool`: r x r average pooling of the token grid before the MLP, M = N / r^2.

The plugin (`ma_vlm.plugin`) reuses `build_projector` for its depth-feature projections, so this
file depends on nothing but torch and the config fields named in `build_projector`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ma_vlm.errors import MaVlmInputError

PROJECTOR_TYPES = ("linear", "mlp", "pixel_shuffle", "avg_pool")


def _grid_side(num_tokens: int) -> int:
    side = math.isqrt(num_tokens)
    if side * side != num_tokens:
        raise MaVlmInputError(
            f"token reduction needs a square grid of patch tokens, got {num_tokens}; use "
            "vision_feature_select_strategy='default' (drops CLS) or projector_type 'mlp'/'linear'"
        )
    return side


def projected_token_count(num_tokens: int, projector_type: str, token_reduction: int = 1) -> int:
    """Visual tokens the LLM sees per image for `num_tokens` tower patch tokens."""
    if projector_type in ("linear", "mlp"):
        return num_tokens
    side = _grid_side(num_tokens)
    if side % token_reduction:
        raise MaVlmInputError(
            f"token_reduction {token_reduction} must divide the {side}x{side} token grid; pick a divisor of {side}"
        )
    return (side // token_reduction) ** 2


class LinearProjector(nn.Module):
    def __init__(self, vision_size: int, text_size: int, bias: bool = True):
        super().__init__()
        self.linear_1 = nn.Linear(vision_size, text_size, bias=bias)

    def forward(self, image_features: torch.Tensor) -> torch.Tensor:
        return self.linear_1(image_features)


class MlpProjector(nn.Module):
    """Same parameter names as Transformers' `LlavaMultiModalProjector` (linear_1, linear_2), so
    a LLaVA projector's weights load into it unchanged."""

    def __init__(self, vision_size: int, text_size: int, bias: bool = True, act: str = "gelu"):
        super().__init__()
        from transformers.activations import ACT2FN

        self.linear_1 = nn.Linear(vision_size, text_size, bias=bias)
        self.act = ACT2FN[act]
        self.linear_2 = nn.Linear(text_size, text_size, bias=bias)

    def forward(self, image_features: torch.Tensor) -> torch.Tensor:
        return self.linear_2(self.act(self.linear_1(image_features)))


class TokenReducingProjector(nn.Module):
    """r x r neighbourhoods of the token grid -> one token (pixel shuffle or average pool), then
    the MLP. Input (B, t*t, D) row-major, output (B, (t/r)^2, D_text)."""

    def __init__(self, vision_size: int, text_size: int, reduction: int, mode: str, bias: bool = True,
                 act: str = "gelu"):  # fmt: skip
        super().__init__()
        if reduction < 1:
            raise MaVlmInputError(f"token_reduction must be >= 1, got {reduction}")
        self.reduction, self.mode = reduction, mode
        width = vision_size * reduction**2 if mode == "pixel_shuffle" else vision_size
        self.mlp = MlpProjector(width, text_size, bias=bias, act=act)

    def reduce(self, image_features: torch.Tensor) -> torch.Tensor:
        batch, count, width = image_features.shape
        side, r = _grid_side(count), self.reduction
        projected_token_count(count, self.mode, r)  # checks divisibility with a clear message
        grid = image_features.reshape(batch, side, side, width)
        if self.mode == "avg_pool":
            pooled = nn.functional.avg_pool2d(grid.permute(0, 3, 1, 2), r)
            return pooled.flatten(2).transpose(1, 2)
        # (B, t/r, r, t/r, r, D) -> (B, t/r, t/r, r, r, D): each block's r*r tokens side by side
        blocks = grid.reshape(batch, side // r, r, side // r, r, width).permute(0, 1, 3, 2, 4, 5)
        return blocks.reshape(batch, (side // r) ** 2, r * r * width)

    def forward(self, image_features: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.reduce(image_features))


def build_projector(vision_size: int, text_size: int, projector_type: str = "mlp", token_reduction: int = 1,
                    bias: bool = True, act: str = "gelu") -> nn.Module:  # fmt: skip
    """A projector by name (see the module docstring). vision_size: width of the tower tokens
    fed to it (times the number of feature layers when several are concatenated)."""
    if projector_type not in PROJECTOR_TYPES:
        raise MaVlmInputError(f"projector_type {projector_type!r} is not supported; use one of {PROJECTOR_TYPES}")
    if projector_type in ("linear", "mlp") and token_reduction != 1:
        raise MaVlmInputError(
            f"projector_type {projector_type!r} keeps every token; token_reduction {token_reduction} needs "
            "'pixel_shuffle' or 'avg_pool'"
        )
    if projector_type == "linear":
        return LinearProjector(vision_size, text_size, bias=bias)
    if projector_type == "mlp":
        return MlpProjector(vision_size, text_size, bias=bias, act=act)
    return TokenReducingProjector(vision_size, text_size, token_reduction, projector_type, bias=bias, act=act)
