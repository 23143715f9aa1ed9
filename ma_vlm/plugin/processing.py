"""The depth prior's inputs from images and their cameras: `depth_prior_inputs`."""

from __future__ import annotations

import torch

from ma_vlm.errors import MaVlmInputError


def depth_prior_inputs(image_processor, images, intrinsics) -> dict[str, torch.Tensor]:
    """`depth_prior_pixel_values` (B, 3, S, S) and `depth_prior_intrinsics` (B, 4) for a plugged MLLM.

    images: PIL images / arrays as `MetricAnythingImageProcessor` takes them (one per MLLM image row).
    intrinsics: (B, 4) [fx, fy, cx, cy] in pixels of the images as given; they are rescaled to the
    processor's S x S pixels (x and y separately, since the processor squashes to a square).
    """
    images = list(images) if isinstance(images, (list, tuple)) else [images]
    intrinsics = torch.as_tensor(intrinsics, dtype=torch.float32).reshape(-1, 4)
    if intrinsics.shape[0] != len(images):
        raise MaVlmInputError(f"got {intrinsics.shape[0]} intrinsics rows for {len(images)} images; give one per image")
    sizes = []
    for image in images:
        width, height = image.size if hasattr(image, "size") and not callable(image.size) else image.shape[1::-1]
        sizes.append((width, height))
    encoded = image_processor(images, focal_length_px=intrinsics[:, 0].tolist(), return_tensors="pt")
    if "intrinsics" in encoded:  # the processor rescales them itself
        return {"depth_prior_pixel_values": encoded["pixel_values"], "depth_prior_intrinsics": encoded["intrinsics"]}
    side = encoded["pixel_values"].shape[-1]
    scale = torch.tensor([[side / w, side / h, side / w, side / h] for w, h in sizes])
    # the same rescaling as ma_vlm.geometry.Intrinsics.scaled
    return {"depth_prior_pixel_values": encoded["pixel_values"], "depth_prior_intrinsics": intrinsics * scale}
