"""Depth losses that respect validity masks, in log depth.

Units: predictions are metric inverse depth (1/m, the model's `inverse_depth`), targets are
depth in metres with 0 = invalid. Both are compared as natural-log depth, so a residual
r = ln(pred_depth) - ln(gt_depth) = -ln(pred_inverse) - ln(gt_depth) is unitless and a 10 %
depth error costs the same at 1 m and at 50 m.

- `scale_aware_log_loss` (SILog, Eigen et al. 2014, with lambda < 1): per image
  sqrt(mean(r^2) - lambda * mean(r)^2). lambda = 1 would be fully scale-invariant; the
  remaining (1 - lambda) * mean(r)^2 is the metric (scale) term, which a metric model needs.
- `gradient_matching_loss` (MiDaS, Ranftl et al. 2020, on log depth): mean of |dr/dx| + |dr/dy|
  over pixel pairs that are both valid, at `num_scales` nearest-subsampled scales. A global
  scale error has zero gradient, so this term only sharpens structure (edges, planes).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ma_vlm.models.metric_anything.depth_units import inverse_depth_to_depth


def log_residual(inverse_depth: torch.Tensor, depth_m: torch.Tensor, valid_mask: torch.Tensor):
    """(B, H, W) r = ln(predicted depth) - ln(gt depth) (0 where invalid), and the (B, H, W) mask.

    inverse_depth: (B, H, W) or (B, 1, H, W) 1/m; depth_m: same shape, metres; valid_mask: bool.
    """
    inverse_depth, depth_m, valid_mask = (t.reshape(t.shape[0], *t.shape[-2:]) for t in
                                          (inverse_depth, depth_m, valid_mask))
    valid = valid_mask.bool() & (depth_m > 0) & torch.isfinite(depth_m)
    predicted_log = torch.log(inverse_depth_to_depth(inverse_depth.float()))  # the model's own clamp
    target_log = torch.log(torch.where(valid, depth_m.float(), torch.ones_like(depth_m, dtype=torch.float32)))
    return torch.where(valid, predicted_log - target_log, torch.zeros_like(predicted_log)), valid


def scale_aware_log_loss(inverse_depth, depth_m, valid_mask, variance_focus: float = 0.85,
                         eps: float = 1e-8) -> torch.Tensor:
    """Mean over images with any valid pixel of sqrt(mean(r^2) - lambda mean(r)^2) (unitless)."""
    residual, valid = log_residual(inverse_depth, depth_m, valid_mask)
    count = valid.sum(dim=(-2, -1)).float()
    has_pixels = count > 0
    mean = residual.sum(dim=(-2, -1)) / count.clamp_min(1)
    mean_sq = (residual**2).sum(dim=(-2, -1)) / count.clamp_min(1)
    per_image = torch.sqrt((mean_sq - variance_focus * mean**2).clamp_min(0) + eps)
    if not has_pixels.any():
        return residual.sum() * 0.0  # keeps the graph; nothing to learn from
    return per_image[has_pixels].mean()


def gradient_matching_loss(inverse_depth, depth_m, valid_mask, num_scales: int = 4) -> torch.Tensor:
    """Multi-scale gradient matching of the log-depth residual (see the module docstring).

    Scale k subsamples every 2^k-th pixel (nearest: no mixing of valid and invalid pixels).
    Per scale: sum of |differences| over valid pairs / number of valid pairs; scales averaged.
    """
    residual, valid = log_residual(inverse_depth, depth_m, valid_mask)
    total = residual.sum() * 0.0
    for scale in range(num_scales):
        step = 2**scale
        r, m = residual[:, ::step, ::step], valid[:, ::step, ::step].float()
        pair_x = m[:, :, 1:] * m[:, :, :-1]
        pair_y = m[:, 1:, :] * m[:, :-1, :]
        pairs = pair_x.sum() + pair_y.sum()
        if pairs == 0:
            continue
        grad_x = (r[:, :, 1:] - r[:, :, :-1]).abs() * pair_x
        grad_y = (r[:, 1:, :] - r[:, :-1, :]).abs() * pair_y
        total = total + (grad_x.sum() + grad_y.sum()) / pairs
    return total / num_scales


@dataclass
class DepthLoss:
    """The training objective: `scale_aware_log_loss + gradient_weight * gradient_matching_loss`."""

    variance_focus: float = 0.85
    gradient_weight: float = 0.5
    num_scales: int = 4

    def __call__(self, inverse_depth, depth_m, valid_mask) -> dict[str, torch.Tensor]:
        """Returns {"loss", "silog", "gradient"} (scalars, unitless)."""
        silog = scale_aware_log_loss(inverse_depth, depth_m, valid_mask, self.variance_focus)
        gradient = gradient_matching_loss(inverse_depth, depth_m, valid_mask, self.num_scales)
        return {"loss": silog + self.gradient_weight * gradient, "silog": silog, "gradient": gradient}
