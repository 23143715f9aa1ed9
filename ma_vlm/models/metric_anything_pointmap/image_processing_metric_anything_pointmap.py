"""Image processor of the point-map model: RGB -> ImageNet-normalised tensor at the image's own size.

No resizing here: the model resizes to its token grid itself (keeping the aspect ratio, as the
published MoGe code does) and returns maps and intrinsics in pixels of the image as given.
"""

from __future__ import annotations

import torch
from transformers.image_processing_utils import BaseImageProcessor, BatchFeature

from ma_vlm.errors import MaVlmInputError
from ma_vlm.models.image_utils import IMAGENET_MEAN, IMAGENET_STD, image_to_tensor, refuse_unknown_arguments


class MetricAnythingPointMapImageProcessor(BaseImageProcessor):
    """Prepares images for `MetricAnythingForPointMapEstimation` (uint8 / 255, ImageNet mean/std)."""

    model_input_names = ["pixel_values"]

    def __init__(self, image_mean=IMAGENET_MEAN, image_std=IMAGENET_STD, **kwargs):
        super().__init__(**kwargs)
        self.image_mean = list(image_mean)
        self.image_std = list(image_std)

    def preprocess(self, images, return_tensors="pt", image_mean=None, image_std=None, **kwargs) -> BatchFeature:
        """images: one image or a list of images of one size. image_mean / image_std: this call's
        normalisation (defaults: the processor's). Returns `pixel_values` (B, 3, H, W).

        `size` is refused: the model keeps each image's size and picks its own token grid
        (`num_tokens` / `resolution_level` of its forward); any other argument is refused too."""
        if kwargs.get("size") is not None:
            raise MaVlmInputError("the point-map processor keeps each image's size; choose the model's resolution "
                                  "with num_tokens or resolution_level in its forward instead of size")
        accepted = ("image_mean", "image_std", "return_tensors")
        refuse_unknown_arguments(type(self).__name__, kwargs, accepted)
        if not isinstance(images, (list, tuple)):
            images = [images]
        tensors = [image_to_tensor(image) for image in images]
        sizes = {tuple(t.shape[-2:]) for t in tensors}
        if len(sizes) > 1:
            raise MaVlmInputError(f"images of different sizes {sorted(sizes)} in one batch; the point-map model "
                                  "keeps each image's size, so call it once per size")
        mean = torch.tensor(self.image_mean if image_mean is None else image_mean, dtype=torch.float32).view(3, 1, 1)
        std = torch.tensor(self.image_std if image_std is None else image_std, dtype=torch.float32).view(3, 1, 1)
        pixel_values = torch.stack([(t - mean) / std for t in tensors])
        return BatchFeature(data={"pixel_values": pixel_values}, tensor_type=return_tensors)


__all__ = ["MetricAnythingPointMapImageProcessor"]
