"""The depth units of Metric Anything and the one conversion between them.

The head predicts *canonical inverse depth* c, free of the camera. For an image W pixels wide
whose horizontal focal length is fx pixels (the network input: W = S and fx = `intrinsics[:, 0]`
of `pixel_values`; or any resized copy, since W / fx does not change under resizing):

    metric inverse depth = c * W / fx          (1/m)
    metric depth         = 1 / clamp(c * W / fx, *INVERSE_DEPTH_CLAMP)   (m), as the official code
    canonical            = fx / (W * depth)    (a metric prompt in the head's units)

Every consumer (model, processor, training losses, distillation) calls these functions.
"""

from __future__ import annotations

import torch

# Metric inverse depth is clamped to this range (1/m) before inversion, so depth lies in
# [1e-3, 1e3] metres, as in the official code.
INVERSE_DEPTH_CLAMP = (1e-3, 1e3)


def _per_image(value, like: torch.Tensor) -> torch.Tensor:
    """A number or (B,) values -> a tensor that broadcasts over `like` (B, ...) per image."""
    value = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    return value.reshape(-1, *([1] * (like.ndim - 1))) if value.ndim else value


def canonical_to_inverse_depth(canonical: torch.Tensor, focal_length_px, width_px) -> torch.Tensor:
    """canonical (B, ...) -> metric inverse depth (B, ...) 1/m, unclamped.

    focal_length_px, width_px: numbers or (B,), fx and width of the same image, in pixels.
    """
    return canonical * (_per_image(width_px, canonical) / _per_image(focal_length_px, canonical))


def inverse_depth_to_depth(inverse_depth: torch.Tensor) -> torch.Tensor:
    """Metric inverse depth (1/m) -> depth in metres, clamped to [1e-3, 1e3] m."""
    return 1.0 / inverse_depth.clamp(*INVERSE_DEPTH_CLAMP)


def canonical_to_depth(canonical: torch.Tensor, focal_length_px, width_px) -> torch.Tensor:
    """canonical (B, ...) -> metric depth (B, ...) metres."""
    return inverse_depth_to_depth(canonical_to_inverse_depth(canonical, focal_length_px, width_px))


def depth_to_canonical(depth_m: torch.Tensor, focal_length_px, width_px) -> torch.Tensor:
    """Metric depth (B, ...) metres > 0 -> canonical inverse depth fx / (W * depth)."""
    return _per_image(focal_length_px, depth_m) / (_per_image(width_px, depth_m) * depth_m)
