"""Focal length and z-shift of a batch of point maps in torch: the fit of `camera_solver`
with no NumPy and no branch on values, so it runs inside a traced graph (torch.export, ONNX,
torch.compile) and on the model's device.

The problem is the same (module docstring of `camera_solver`): pixels (u, v) of points
(x, y, z) obey u = f x / (z + s) + cx, v = f y / (z + s) + cy with a centred principal point; for a
fixed shift s the focal length is closed-form, so the fit is a 1-D minimisation of the projection
residual over s. Here it is solved as a fixed sequence of steps:

1. the same 64 x 64 nearest subsample of the map as MoGe (and `recover_intrinsics`);
2. a log-spaced grid of 64 values of t = min z + s, the nearest point's shifted depth, from 1e-6 to
   1e6 times the map's depth scale (z + s > 0 on every point, as the "exact" solver's bound);
3. five finer grids, each between the neighbours of the previous grid's best point.

In float64 it reaches the minimiser to ~1e-8 relative (the `exact` solver's answer where the
residual has one minimum near the start; where it has several, this one is the best on the grid).
Maps with fewer than 3 valid points get the published fallback: f = half the image diagonal, s = 0.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

SAMPLE_GRID = (64, 64)
_GRID_POINTS = 64
_GRID_DECADES = 6.0  # t from 1e-6 to 1e6 times the depth scale
# Each level narrows the bracket on ln t by 31.5 (27.6 wide at first): after 6 levels it is 2.8e-8,
# about where float64 stops resolving the residual's minimum (~1e-8 relative in t).
_LEVELS = 6


def _subsample(points: torch.Tensor, mask: torch.Tensor):
    """(B, H, W, 3), (B, H, W) -> (B, N, 3) points, (B, N) weights, (B, N, 2) centred pixels, float64."""
    batch, height, width, _ = points.shape
    finite = torch.isfinite(points).all(dim=-1)
    valid = mask & finite
    points = torch.where(valid[..., None], points, torch.zeros_like(points))
    v, u = torch.meshgrid(torch.arange(height, dtype=points.dtype, device=points.device),
                          torch.arange(width, dtype=points.dtype, device=points.device), indexing="ij")
    stacked = torch.cat([points.permute(0, 3, 1, 2), valid[:, None].to(points.dtype),
                         torch.stack([u, v])[None].expand(batch, -1, -1, -1)], dim=1)  # (B, 6, H, W)
    sampled = F.interpolate(stacked, size=SAMPLE_GRID, mode="nearest").flatten(2).transpose(1, 2).double()
    centre = torch.tensor([(width - 1) / 2, (height - 1) / 2], dtype=torch.float64, device=points.device)
    return sampled[..., :3], sampled[..., 3], sampled[..., 4:] - centre


def _fit_at(t, alignment, spread, pixel_energy, z_from_nearest, known_focal):
    """Focal length and squared residual at each (B, K) candidate t (the nearest point's shifted depth).

    With w = 1 / (z + s) per point, the residual is sum |f w xy - uv|^2 = f^2 Q - 2 f P + C, where
    P = sum w (xy . uv), Q = sum w^2 |xy|^2 and C = sum |uv|^2 (centred pixels): three sums per t.
    The best f for that t is P / Q (then the residual is C - P^2 / Q)."""
    inverse = 1 / (z_from_nearest[:, None, :] + t[..., None])  # (B, K, N)
    p = (alignment[:, None] * inverse).sum(-1)
    q = (spread[:, None] * inverse.square()).sum(-1).clamp_min(1e-300)
    focal = p / q if known_focal is None else known_focal[:, None].expand_as(p)
    return focal, (focal.square() * q - 2 * focal * p + pixel_energy[:, None]).clamp_min(0)


def recover_focal_shift(points: torch.Tensor, mask: torch.Tensor, known_focal_px: torch.Tensor | None = None):
    """Per-map focal length (pixels) and z-shift (point-map units), each (B,) float32.

    points: (B, H, W, 3) affine point maps (camera frame, z-shift unknown); mask: (B, H, W) bool,
    True = use; known_focal_px: None, or (B,) known focal lengths (then only the shift is fitted).
    """
    batch, height, width, _ = points.shape
    sampled, weight, pixels = _subsample(points, mask)
    xy, z = sampled[..., :2], sampled[..., 2]
    known = None if known_focal_px is None else known_focal_px.to(torch.float64).reshape(batch)
    count = weight.sum(-1)
    far = torch.where(weight > 0, z, torch.full_like(z, -math.inf)).amax(-1)
    nearest = torch.where(weight > 0, z, torch.full_like(z, math.inf)).amin(-1)
    nearest = torch.where(count > 0, nearest, torch.zeros_like(nearest))
    mean_abs = (z.abs() * weight).sum(-1) / count.clamp_min(1)
    scale = torch.maximum(mean_abs, (far - nearest).clamp_min(0)).clamp_min(1e-12)
    z_from_nearest = torch.where(weight > 0, z - nearest[:, None], torch.zeros_like(z))  # masked: finite, weight 0
    # per-point terms of the residual (`_fit_at`), weighted by the mask
    alignment, spread = (xy * pixels).sum(-1) * weight, xy.square().sum(-1) * weight
    sums = (alignment, spread, (pixels.square().sum(-1) * weight).sum(-1), z_from_nearest, known)

    # ln t from 1e-6 to 1e6 depth scales; each level keeps the two grid cells around its best point
    low = scale.log() - _GRID_DECADES * math.log(10)
    high = scale.log() + _GRID_DECADES * math.log(10)
    steps = torch.linspace(0, 1, _GRID_POINTS, dtype=torch.float64, device=z.device)
    for _ in range(_LEVELS):
        log_t = low[:, None] + (high - low)[:, None] * steps  # (B, K)
        best = _fit_at(log_t.exp(), *sums)[1].argmin(-1, keepdim=True)
        low = log_t.gather(-1, (best - 1).clamp_min(0))[:, 0]
        high = log_t.gather(-1, (best + 1).clamp_max(_GRID_POINTS - 1))[:, 0]
    t = ((low + high) / 2).exp()
    focal = _fit_at(t[:, None], *sums)[0][:, 0]
    shift = t - nearest

    fitted = count >= 3
    fallback_focal = torch.full_like(focal, math.hypot(width, height) / 2) if known is None else known
    focal = torch.where(fitted, focal, fallback_focal)
    shift = torch.where(fitted, shift, torch.zeros_like(shift))
    return focal.float(), shift.float()


__all__ = ["recover_focal_shift", "SAMPLE_GRID"]
