"""One Metric Anything forward -> everything the plugin reads: visual tokens, per-token depth and 3D points.

`run_depth_tower` is the only place that talks to the tower, so the plugin's data path is
processor -> tower -> plugin layers and nothing else calls the depth model.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ma_vlm.errors import MaVlmInputError
from ma_vlm.geometry import backproject_pixels, check_intrinsics


@dataclass
class DepthTokens:
    """The tower's output on its own token grid (g x g patches covering the whole image).

    tokens: (B, N, D) patch tokens (CLS dropped), N = g * g, row-major.
    cls_token: (B, D) the CLS token.
    token_depth: (B, N) metres, z-depth of each patch.
    token_points: (B, N, 3) metres, camera frame (OpenCV axes: x right, y down, z forward).
    grid: (g, g).
    """

    tokens: torch.Tensor
    cls_token: torch.Tensor
    token_depth: torch.Tensor
    token_points: torch.Tensor
    grid: tuple[int, int]


def require_intrinsics(intrinsics, batch: int, device) -> torch.Tensor:
    """(B, 4) [fx, fy, cx, cy] pixels of the depth pixel_values (`ma_vlm.geometry.check_intrinsics`)."""
    if intrinsics is None:
        raise MaVlmInputError(
            "the depth prior needs depth_prior_intrinsics: (B, 4) [fx, fy, cx, cy] in pixels of "
            "depth_prior_pixel_values (ma_vlm.plugin.depth_prior_inputs rescales a camera to them; or assume "
            "a field of view explicitly with ma_vlm.geometry.focal_length_from_fov)"
        )
    return check_intrinsics(intrinsics, batch, device)


def token_centres_px(grid: tuple[int, int], size_hw: tuple[int, int], device) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,) u and v pixel coordinates of the token centres (pixel centres at integer u, v)."""
    rows, cols = grid
    height, width = size_hw
    v = (torch.arange(rows, device=device, dtype=torch.float32) + 0.5) * height / rows - 0.5
    u = (torch.arange(cols, device=device, dtype=torch.float32) + 0.5) * width / cols - 0.5
    vv, uu = torch.meshgrid(v, u, indexing="ij")
    return uu.reshape(-1), vv.reshape(-1)


def backproject_tokens(token_depth: torch.Tensor, intrinsics: torch.Tensor, grid, size_hw) -> torch.Tensor:
    """(B, N) metres + (B, 4) intrinsics -> (B, N, 3) camera-frame points at the token centres."""
    u, v = token_centres_px(grid, size_hw, token_depth.device)
    return backproject_pixels(u, v, token_depth, intrinsics)


def _accepts_intrinsics(depth_model) -> bool:
    return "intrinsics" in inspect.signature(depth_model.forward).parameters


def run_depth_tower(depth_model, pixel_values: torch.Tensor, intrinsics) -> DepthTokens:
    """ONE forward of `MetricAnythingForDepthEstimation` -> `DepthTokens`.

    pixel_values: (B, 3, S, S) from `MetricAnythingImageProcessor`; intrinsics: (B, 4) pixels of them.
    The tower returns `token_depth`/`token_points` itself; for a depth model without them (an older
    one, or a wrapper), the predicted depth is averaged over each patch and the patch centres are
    back-projected.
    """
    if not hasattr(depth_model, "head"):
        raise MaVlmInputError(
            "depth_model must be a MetricAnythingForDepthEstimation (tokens and metric depth from one pass); "
            "load it with AutoModelForDepthEstimation.from_pretrained(...)"
        )
    if pixel_values is None or pixel_values.ndim != 4:
        raise MaVlmInputError(
            "depth_prior_pixel_values must be (B, 3, S, S) from MetricAnythingImageProcessor, "
            f"got {None if pixel_values is None else tuple(pixel_values.shape)}"
        )
    batch = pixel_values.shape[0]
    intrinsics = require_intrinsics(intrinsics, batch, pixel_values.device)
    trainable = any(p.requires_grad for p in depth_model.parameters())
    with torch.set_grad_enabled(torch.is_grad_enabled() and trainable):
        if _accepts_intrinsics(depth_model):
            output = depth_model(pixel_values=pixel_values, intrinsics=intrinsics, return_dict=True)
        else:
            output = depth_model(pixel_values=pixel_values, focal_length_px=intrinsics[:, 0], return_dict=True)
    hidden = output.last_hidden_state
    tokens = hidden[:, 1:]
    side = int(round(tokens.shape[1] ** 0.5))
    grid = (side, side)
    token_points = getattr(output, "token_points", None)
    if token_points is not None:
        token_depth = output.token_depth
    else:
        depth = output.predicted_depth[:, None].float()
        token_depth = F.adaptive_avg_pool2d(depth, grid).flatten(1)
        token_points = backproject_tokens(token_depth, intrinsics, grid, tuple(pixel_values.shape[-2:]))
    return DepthTokens(tokens, hidden[:, 0], token_depth.float(), token_points.float(), grid)
