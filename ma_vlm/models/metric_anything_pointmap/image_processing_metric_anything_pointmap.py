"""Image processor of the point-map model: RGB -> ImageNet-normalised tensor at the image's own size.

No resizing here: the model resizes to its token grid itself (keeping the aspect ratio, as the
published MoGe code does) and returns maps and intrinsics in pixels of the image as given.
"""

from __future__ import annotations

import torch
from transformers.image_processing_utils import BaseImageProcessor, BatchFeature

from ma_vlm.errors import MaVlmInputError
from ma_vlm.models.image_utils import IMAGENET_MEAN, IMAGENET_STD, image_to_tensor


class MetricAnythingPointMapImageProcessor(BaseImageProcessor):
    """Prepares images for `MetricAnythingForPointMapEstimation` (uint8 / 255, ImageNet mean/std)."""

    model_input_names = ["pixel_values"]

    def __init__(self, image_mean=IMAGENET_MEAN, image_std=IMAGENET_STD, **kwargs):
        super().__init__(**kwargs)
        self.image_mean = list(image_mean)
        self.image_std = list(image_std)

    def preprocess(self, images, return_tensors="pt", **kwargs) -> BatchFeature:
        """images: one image or a list of images of one size. Returns `pixel_values` (B, 3, H, W)."""
        if not isinstance(images, (list, tuple)):
            images = [images]
        tensors = [image_to_tensor(image) for image in images]
        sizes = {tuple(t.shape[-2:]) for t in tensors}
        if len(sizes) > 1:
            raise MaVlmInputError(f"images of different sizes {sorted(sizes)} in one batch; the point-map model "
                                  "keeps each image's size, so call it once per size")
        mean = torch.tensor(self.image_mean).view(3, 1, 1)
        std = torch.tensor(self.image_std).view(3, 1, 1)
        pixel_values = torch.stack([(t - mean) / std for t in tensors])
        return BatchFeature(data={"pixel_values": pixel_values}, tensor_type=return_tensors)


__all__ = ["MetricAnythingPointMapImageProcessor"]
