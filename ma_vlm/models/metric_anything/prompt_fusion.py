"""How the teacher reads a Sparse Metric Prompt: densify it, then fuse it with the prediction.

Units: everything here is *canonical inverse depth* c = f / (S * depth_m) (the head's units,
see `MetricAnythingForDepthEstimation.prompt_in_canonical_units`); for a plane, inverse depth is
affine in pixel coordinates, so interpolating c linearly is exact on planar surfaces.

1. `densify_prompt`: normalised convolution over a pyramid of cell sizes (S, S/sqrt2, ... 1 px).
   At each level a cell's value is the mean of its prompt pixels; cells are upsampled bilinearly,
   and a pixel takes the finest level whose bilinear neighbourhood is fully supported; a
   first-order step then moves the estimate from the cells' centroids to the pixel. On a
   regular grid this is close to bilinear interpolation; on a LiDAR line it is the line's value.
   No learned parameters and no gradient: it is a fixed function of the prompt.
   It also returns `support` in (0, 1]: 1 where the prompt is at full resolution, falling
   towards 1 / (log2 S + 1) as the supporting cell grows to the whole image (how far the nearest
   data is); 0 only for an image without a prompt.
2. `MetricAnythingPromptFusion`: a per-pixel gate w = tanh(conv(...)) blends the network's log c
   with the densified prompt's: log c = log c_net + w * (log c_prompt - log c_net) (the ratio
   bounded to e^4 either way). The last
   convolution starts at zero (w = 0), so a new teacher equals its student; the gradient of w
   is (log c_prompt - log c_net), so it learns from the first step where to trust the prompt.
   Its inputs: the log-ratio, the support, the network's own log c and the RGB image (edges).
3. `align_to_prompt` (config `prompt_alignment: residual`), before the gate: the network's log c
   is shifted by the densified log ratio prompt / prediction taken at the prompt pixels. The
   result equals the prompt on its pixels and keeps the network's shape in between: with 8
   points the shift is nearly one global scale (the image gives the structure, the points the
   metric scale), with a dense LiDAR scan it is a local correction (guided interpolation).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# Canonical inverse depth floor before a log (the head ends in a ReLU and may output 0).
_CANONICAL_FLOOR = 1e-6
_MAX_LOG_RATIO = 4.0


def _levels(size: int) -> list[int]:
    """Grid sizes from 1 cell to `size` cells per side, ~sqrt(2) apart (coarse first)."""
    count = int(math.ceil(2 * math.log2(size))) + 1
    sizes = sorted({max(1, min(size, round(2 ** (k / 2)))) for k in range(count)} | {size})
    return sizes


def densify_prompt(canonical: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 1, H, W) sparse canonical inverse depth and validity (0/1) -> dense (B, 1, H, W)
    canonical inverse depth and (B, 1, H, W) support in [0, 1] (see the module docstring).

    Exact at prompt pixels. Between them, the zero-order estimate is the value at the blended
    cell *centroid* C(p), not at p; a first-order step adds grad(estimate) . (p - C(p)), clipped
    to the estimate's range over the surrounding 17 x 17 pixels (no overshoot at depth edges).
    Measured: on a plane sampled every 8 px, 0.8 % mean error (1.4 % without the first-order
    step); on the demo's 24 held-out scenes at their own resolution (80-96 px), its depth scores
    AbsRel 0.072 / 0.155 / 0.0038 for grid:8 / uniform:0.01 / lidar:64, against Delaunay-linear
    interpolation's 0.073 / 0.136 / 0.0037 (at the 256 px network size and resized back:
    0.078 / 0.149 / 0.0087). Images without any prompt pixel get 0 for both.
    """
    height, width = canonical.shape[-2:]
    rows = torch.arange(height, dtype=canonical.dtype, device=canonical.device).view(1, 1, -1, 1)
    cols = torch.arange(width, dtype=canonical.dtype, device=canonical.device).view(1, 1, 1, -1)
    rows, cols = rows.expand_as(canonical), cols.expand_as(canonical)
    dense, support = _densify_channels(torch.cat([canonical, rows, cols], dim=1), valid)
    estimate, centroid_row, centroid_col = dense[:, :1], dense[:, 1:2], dense[:, 2:3]
    padded = F.pad(estimate, (1, 1, 1, 1), mode="replicate")
    grad_row = (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1]) / 2
    grad_col = (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2]) / 2
    corrected = estimate + grad_row * (rows - centroid_row) + grad_col * (cols - centroid_col)
    upper = F.max_pool2d(estimate, 17, stride=1, padding=8)
    lower = -F.max_pool2d(-estimate, 17, stride=1, padding=8)
    corrected = torch.minimum(torch.maximum(corrected, lower), upper)
    return torch.where(support > 0, corrected, torch.zeros_like(corrected)), support


class DelaunayPlan:
    """Piecewise-linear interpolation over the Delaunay triangulation of each image's prompt
    pixels (nearest prompt pixel outside their convex hull), as a fixed linear map: every pixel
    is a weighted sum of 3 prompt pixels. Built once per prompt mask (scipy, float64), applied to
    any number of value maps with torch (`apply`), so the values keep their gradient.

    index: (B, H*W, 3) flat pixel indices; weights: (B, H*W, 3); distance: (B, H, W) pixels to
    the nearest prompt pixel; has_prompt: (B,) bool.
    """

    def __init__(self, valid: torch.Tensor):
        import numpy as np
        from scipy.ndimage import distance_transform_edt
        from scipy.spatial import Delaunay, QhullError

        masks = valid.detach().to("cpu").numpy()[:, 0] > 0
        batch, height, width = masks.shape
        grid = np.stack(np.mgrid[0:height, 0:width], axis=-1).reshape(-1, 2).astype(np.float64)
        rows, cols = grid[:, 0], grid[:, 1]
        index = np.zeros((batch, height * width, 3), dtype=np.int64)
        weights = np.zeros((batch, height * width, 3))
        distance = np.zeros((batch, height, width))
        for image, mask in enumerate(masks):
            if not mask.any():
                continue
            distance[image], (near_rows, near_cols) = distance_transform_edt(~mask, return_indices=True)
            nearest = (near_rows * width + near_cols).reshape(-1)
            index[image, :, 0] = nearest
            weights[image, :, 0] = 1.0
            points = np.argwhere(mask)
            if len(points) < 3:
                continue
            try:
                triangulation = Delaunay(points.astype(np.float64))
            except QhullError:  # collinear points (one scan line) have no triangulation
                continue
            simplex = triangulation.find_simplex(grid)
            inside = simplex >= 0
            # Per-simplex tables, gathered per pixel: the corners' flat pixel indices and the
            # barycentric coordinates as affine functions of (row, col). scipy's transform T gives
            # b = T[:2] (p - T[2]), so b_i = T[i,0] row + T[i,1] col - T[i] . T[2]. (Per-pixel
            # fancy indexing of the corners' coordinates was half of the time at 1536 px.)
            which = np.where(inside, simplex, 0)
            corners = (points[:, 0] * width + points[:, 1])[triangulation.simplices]  # (simplices, 3)
            transform = triangulation.transform
            offset = -np.einsum("sij,sj->si", transform[:, :2], transform[:, 2])  # (simplices, 2)
            affine = np.concatenate([transform[:, :2].reshape(-1, 4), offset], axis=1)[which]  # (HW, 6)
            first = affine[:, 0] * rows + affine[:, 1] * cols + affine[:, 4]
            second = affine[:, 2] * rows + affine[:, 3] * cols + affine[:, 5]
            outside = ~inside
            index[image] = corners[which]
            index[image, outside] = 0
            index[image, outside, 0] = nearest[outside]
            weights[image, :, 0], weights[image, :, 1], weights[image, :, 2] = first, second, 1.0 - first - second
            weights[image, outside] = (1.0, 0.0, 0.0)
        self.index = torch.from_numpy(index).to(valid.device)
        self.weights = torch.from_numpy(weights)
        self.distance = torch.from_numpy(distance)
        self.has_prompt = torch.from_numpy(masks.reshape(batch, -1).any(1)).to(valid.device)

    def apply(self, values: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) values (read at the prompt pixels only) -> (B, C, H, W) interpolated; 0 for
        images without a prompt."""
        batch, channels, height, width = values.shape
        flat = values.reshape(batch, channels, 1, height * width).expand(-1, -1, 3, -1)
        index = self.index.transpose(1, 2)[:, None].expand(-1, channels, -1, -1)  # (B, C, 3, HW)
        weights = self.weights.to(values.device, values.dtype).transpose(1, 2)[:, None]
        picked = torch.gather(flat, 3, index)
        dense = (picked * weights).sum(2).reshape(batch, channels, height, width)
        return torch.where(self.has_prompt.view(-1, 1, 1, 1), dense, torch.zeros_like(dense))

    def support(self, like: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W): 1 / (1 + 32 d / max(H, W)), d the distance to the nearest prompt pixel;
        0 for images without a prompt."""
        height, width = self.distance.shape[-2:]
        support = 1.0 / (1.0 + 32.0 * self.distance / max(height, width))
        support = torch.where(self.has_prompt.cpu().view(-1, 1, 1), support, torch.zeros_like(support))
        return support[:, None].to(like.device, like.dtype)


def densify_prompt_delaunay(canonical: torch.Tensor, valid: torch.Tensor,
                            plan: DelaunayPlan | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 1, H, W) sparse canonical inverse depth and validity (0/1) -> dense (B, 1, H, W) and
    (B, 1, H, W) support in (0, 1].

    Exact piecewise-linear interpolation over the Delaunay triangulation of the prompt pixels,
    nearest prompt pixel outside their convex hull (`DelaunayPlan`; pass one to reuse it): the
    same interpolant as `baseline:linear`, but in canonical inverse depth, which is linear along
    planes. So the teacher's input prior is the baseline itself and its network only has to
    learn where the image knows better. support = 1 / (1 + 32 d / max(H, W)) with d the distance
    in pixels to the nearest prompt pixel (1 on it). Images without any prompt pixel get 0 for
    both. Differentiable in the values, not in the mask.
    """
    plan = plan if plan is not None else DelaunayPlan(valid)
    return plan.apply(canonical), plan.support(canonical)


def _densify_channels(values: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-order pyramid densification of every channel of (B, C, H, W) `values` at the
    (B, 1, H, W) `valid` pixels; returns (B, C, H, W) and the (B, 1, H, W) support."""
    height, width = values.shape[-2:]
    valid = valid.to(values.dtype)
    weighted = values * valid
    dense = torch.zeros_like(values)
    support = torch.zeros_like(valid)
    longest = max(height, width)
    for cells in _levels(longest):
        grid = (max(1, round(cells * height / longest)), max(1, round(cells * width / longest)))
        count = F.adaptive_avg_pool2d(valid, grid)
        total = F.adaptive_avg_pool2d(weighted, grid)
        has_data = (count > 0).to(values.dtype)
        mean = torch.where(count > 0, total / count.clamp_min(1e-12), torch.zeros_like(total))
        up_weight = F.interpolate(has_data, size=(height, width), mode="bilinear", align_corners=False)
        up_value = F.interpolate(mean * has_data, size=(height, width), mode="bilinear", align_corners=False)
        full = up_weight > 1 - 1e-4  # every bilinear neighbour cell holds prompt pixels
        dense = torch.where(full, up_value / up_weight.clamp_min(1e-12), dense)
        level_support = (math.log2(cells) + 1.0) / (math.log2(longest) + 1.0)  # > 0 wherever densified
        support = torch.where(full, torch.full_like(support, level_support), support)
    return dense, support


def align_to_prompt(canonical: torch.Tensor, sparse: torch.Tensor, densify, present: torch.Tensor) -> torch.Tensor:
    """(B, S, S) network canonical inverse depth shifted onto the prompt (module docstring, 3).

    sparse: (B, 2, S, S) prompt in canonical units and its validity; densify: `densify_prompt` or
    `densify_prompt_delaunay`, applied to the log ratio r = log c_prompt - log c_net at the prompt
    pixels; returns c_net * exp(densified r) (bounded to e^4 either way), `canonical` where
    `present` is False. Both densifiers are linear in the values, so the result is
    differentiable: a constant factor on c_net cancels (the prompt sets the scale), and training
    shapes the network's prediction between the prompt pixels.
    """
    log_net = torch.log(canonical.clamp_min(_CANONICAL_FLOOR))[:, None]
    valid = sparse[:, 1:]
    log_prompt = torch.log(sparse[:, :1].clamp_min(_CANONICAL_FLOOR))
    ratio = torch.where(valid > 0, log_prompt - log_net, torch.zeros_like(log_net))
    shift, _ = densify(ratio, valid)
    aligned = canonical * torch.exp(shift.clamp(-_MAX_LOG_RATIO, _MAX_LOG_RATIO))[:, 0]
    return torch.where(present.view(-1, 1, 1), aligned, canonical)


def align_depth_to_prompt(depth_m: torch.Tensor, prompt_depth_m: torch.Tensor) -> torch.Tensor:
    """(H, W) predicted depth, metres, shifted onto an (H, W) sparse prompt (metres, 0 = missing)
    at the image's own resolution: the residual alignment again after the network-size
    prediction is resized back, so a dense prompt (LiDAR) is exact on its pixels instead of
    blurred by the round trip. `align_to_prompt` on inverse depth (the log ratio only changes
    sign), with the exact Delaunay densifier."""
    valid = prompt_depth_m > 0
    if not valid.any():
        return depth_m
    inverse_prompt = torch.where(valid, 1.0 / prompt_depth_m.clamp_min(1e-6), torch.zeros_like(prompt_depth_m))
    sparse = torch.stack([inverse_prompt, valid.to(prompt_depth_m.dtype)])[None].to(depth_m.dtype)  # (1, 2, H, W)
    present = torch.ones(1, dtype=torch.bool, device=depth_m.device)
    aligned = align_to_prompt(1.0 / depth_m.clamp_min(1e-6)[None], sparse, densify_prompt_delaunay, present)
    return (1.0 / aligned[0]).to(depth_m.dtype)


class MetricAnythingPromptFusion(nn.Module):
    """Zero-initialised confidence gate between the network and the densified prompt (module
    docstring). Inputs (B, 6, S, S): log-ratio, support, network log c, RGB (ImageNet-normalised)."""

    def __init__(self, hidden: int = 16):
        super().__init__()
        self.convolution1 = nn.Conv2d(6, hidden, kernel_size=3, padding=1)
        self.activation1 = nn.ReLU()
        self.convolution2 = nn.Conv2d(hidden, hidden, kernel_size=3, padding=1)
        self.activation2 = nn.ReLU()
        self.convolution3 = nn.Conv2d(hidden, 1, kernel_size=3, padding=1)

    def forward(self, canonical: torch.Tensor, dense_prompt: torch.Tensor, support: torch.Tensor,
                pixel_values: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """canonical (B, S, S) network output; dense_prompt, support (B, 1, S, S); pixel_values
        (B, 3, S, S); present (B,) bool: images with a prompt. Returns (B, S, S) canonical."""
        log_net = torch.log(canonical.clamp_min(_CANONICAL_FLOOR))[:, None]
        log_prompt = torch.log(dense_prompt.clamp_min(_CANONICAL_FLOOR))
        # Bounded (a factor e^4 ~ 55 either way) so a near-zero prediction cannot give the gate
        # a huge gradient; the prompt still wins where the gate opens.
        log_ratio = (log_prompt - log_net).clamp(-_MAX_LOG_RATIO, _MAX_LOG_RATIO)
        # The gate's convolutions run in their weights' dtype (bf16 under DeepSpeed or a bf16
        # load); the prompt arrives in float32 and the fusion itself stays there.
        weights = self.convolution1.weight.dtype
        features = torch.cat([log_ratio, support, log_net, pixel_values.to(log_net.dtype)], dim=1).to(weights)
        hidden = self.activation1(self.convolution1(features))
        gate = torch.tanh(self.convolution3(self.activation2(self.convolution2(hidden))))
        fused = canonical * torch.exp(gate * log_ratio)[:, 0]  # exactly `canonical` while gate == 0
        return torch.where(present.view(-1, 1, 1), fused, canonical)
