"""Pixels as every image processor of ma-vlm reads them: ImageNet normalisation and one checked
conversion of PIL images, arrays and tensors to (3, H, W) float32 in [0, 1]."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ma_vlm.errors import MaVlmInputError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MIN_IMAGE_SIDE_PX = 32


def image_to_tensor(image) -> torch.Tensor:
    """PIL / (H, W, 3) uint8 array / (3, H, W) or (H, W, 3) tensor -> (3, H, W) float32 in [0, 1].

    PIL images in modes L, LA, P, RGBA, CMYK are converted to RGB as the official tool does;
    arrays must already be RGB, so ambiguous input fails with a message that says what to do.
    """
    if isinstance(image, Image.Image):
        if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
            raise MaVlmInputError(
                f"image mode {image.mode} is a 16-bit/float single-channel image (a depth map?); "
                "pass an 8-bit RGB photo (a sparse depth map goes in prompt_depth instead)"
            )
        image = np.asarray(image.convert("RGB"))
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu()
        if image.ndim == 3 and image.shape[0] in (1, 3, 4) and image.shape[-1] not in (1, 3, 4):
            image = image.permute(1, 2, 0)
        image = image.numpy()
    array = np.asarray(image)
    if array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 1):
        raise MaVlmInputError(
            f"got a single-channel (grey) array of shape {array.shape}; pass RGB (H, W, 3), e.g. "
            "np.repeat(gray[..., None], 3, axis=-1), or a PIL image"
        )
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        raise MaVlmInputError(f"image must be (H, W, 3) RGB, got shape {array.shape}")
    if array.shape[-1] == 4:
        raise MaVlmInputError("got an RGBA array; drop the alpha channel (image[..., :3]) or pass a PIL image")
    if min(array.shape[:2]) < MIN_IMAGE_SIDE_PX:
        raise MaVlmInputError(
            f"image is {array.shape[1]}x{array.shape[0]} px; at least {MIN_IMAGE_SIDE_PX} px a side is needed"
        )
    if array.dtype == np.uint8:
        tensor = torch.from_numpy(np.array(array, copy=True)).permute(2, 0, 1).to(torch.float32) * (1 / 255)
    elif array.dtype == np.uint16:
        raise MaVlmInputError("got a 16-bit image; convert to 8-bit RGB (e.g. (img >> 8).astype(np.uint8))")
    elif np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
            raise MaVlmInputError("float images must hold finite values in [0, 1]; pass uint8 RGB otherwise")
        tensor = torch.from_numpy(np.array(array, dtype=np.float32, copy=True)).permute(2, 0, 1)
    else:
        raise MaVlmInputError(f"unsupported image dtype {array.dtype}; pass uint8 RGB")
    return tensor
