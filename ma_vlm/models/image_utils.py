"""Pixels as every image processor of ma-vlm reads them: ImageNet normalisation and one checked
conversion of PIL images, arrays and tensors to (3, H, W) float32 in [0, 1]; and the focal
length a photo's EXIF records."""

from __future__ import annotations

import math

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


def refuse_unknown_arguments(processor: str, kwargs: dict, accepted) -> None:
    """One line naming call arguments a processor would otherwise ignore (None counts as not given)."""
    unknown = sorted(name for name, value in kwargs.items() if value is not None)
    if unknown:
        raise MaVlmInputError(f"{processor} does not take {', '.join(unknown)}; it takes {', '.join(accepted)}")


# EXIF tags (CIPA DC-008) that give a camera's focal length, all in the Exif sub-IFD.
EXIF_IFD = 0x8769
FOCAL_LENGTH_MM, FOCAL_LENGTH_35MM_FILM_MM = 0x920A, 0xA405
FOCAL_PLANE_X_RESOLUTION, FOCAL_PLANE_RESOLUTION_UNIT = 0xA20E, 0xA210
PIXEL_X_DIMENSION, PIXEL_Y_DIMENSION = 0xA002, 0xA003
FOCAL_PLANE_UNIT_MM = {2: 25.4, 3: 10.0, 4: 1.0, 5: 0.001}  # inch (the default), cm, mm, um
FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)


def exif_focal_length_px(image) -> float | None:
    """Focal length in pixels of a PIL `image` as given, from its EXIF; None when it has none.

    FocalLengthIn35mmFilm first: the 35 mm equivalent is defined over the frame diagonal, so
    f_px = f_35mm x diagonal_px / 43.27 mm. Otherwise FocalLength (mm) with the sensor's
    FocalPlaneXResolution (pixels per unit at PixelXDimension pixels wide), rescaled to this
    image's size (a resized or EXIF-rotated photo keeps its tags).
    """
    if not isinstance(image, Image.Image):
        return None
    try:
        tags = image.getexif().get_ifd(EXIF_IFD)
    except Exception:  # unreadable EXIF is no camera, not an error
        return None
    width, height = image.size

    def positive(tag):
        try:
            value = float(tags[tag])
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            return None
        return value if math.isfinite(value) and value > 0 else None

    focal_35mm = positive(FOCAL_LENGTH_35MM_FILM_MM)
    if focal_35mm is not None:
        return focal_35mm * math.hypot(width, height) / FULL_FRAME_DIAGONAL_MM
    focal_mm, pixels_per_unit = positive(FOCAL_LENGTH_MM), positive(FOCAL_PLANE_X_RESOLUTION)
    unit_mm = FOCAL_PLANE_UNIT_MM.get(int(tags.get(FOCAL_PLANE_RESOLUTION_UNIT, 2)))
    if focal_mm is None or pixels_per_unit is None or unit_mm is None:
        return None
    recorded = [positive(PIXEL_X_DIMENSION), positive(PIXEL_Y_DIMENSION)]
    scale = max(width, height) / max(recorded) if None not in recorded else 1.0
    return focal_mm * pixels_per_unit / unit_mm * scale
