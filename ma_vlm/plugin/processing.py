"""The depth prior's inputs from images and their cameras: `depth_prior_inputs`."""

from __future__ import annotations

import torch


def depth_prior_inputs(image_processor, images, intrinsics) -> dict[str, torch.Tensor]:
    """`depth_prior_pixel_values` (B, 3, S, S) and `depth_prior_intrinsics` (B, 4) for a plugged MLLM.

    images: PIL images / arrays as `MetricAnythingImageProcessor` takes them (one per MLLM image row).
    intrinsics: (B, 4) [fx, fy, cx, cy] in pixels of the images as given; they are rescaled to the
    processor's S x S pixels (x and y separately, since the processor squashes to a square).
    """
    images = list(images) if isinstance(images, (list, tuple)) else [images]
    # MetricAnythingImageProcessor rescales the cameras to its S x S pixels (x and y separately)
    encoded = image_processor(images, intrinsics=intrinsics, return_tensors="pt")
    return {"depth_prior_pixel_values": encoded["pixel_values"], "depth_prior_intrinsics": encoded["intrinsics"]}
