"""Image processor: RGB -> normalised square network input, and depth post-processing.

Preprocessing is the official `infer.py`'s: uint8 * (1/255), ImageNet mean/std, then the
*normalised* tensor is resized to S x S with bilinear interpolation (align_corners=False, no
antialias, aspect ratio not kept). Post-processing turns canonical inverse depth into metres
at the size the user asks for, the official way: scale by W / f_px, resize the inverse depth,
clamp to [1e-3, 1e3] 1/m, invert (`ma_vlm.models.metric_anything.depth_units`). Cameras follow the one
convention of `ma_vlm.geometry` (pixel centres at integer coordinates).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F
from transformers.image_processing_utils import BaseImageProcessor, BatchFeature
from transformers.processing_utils import ImagesKwargs

from ma_vlm.errors import MaVlmInputError
from ma_vlm.geometry import (
    centred_intrinsics,
    check_focal_length,
    check_intrinsics,
    focal_length_from_fov,
    scale_intrinsics,
)
from ma_vlm.models.image_utils import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    exif_focal_length_px,
    image_to_tensor,
    refuse_unknown_arguments,
)
from ma_vlm.models.metric_anything.depth_units import canonical_to_inverse_depth, inverse_depth_to_depth
from ma_vlm.models.metric_anything.prompt_fusion import align_depth_to_prompt

MISSING_FOCAL_LENGTH = (
    "metric depth needs the focal length: pass intrinsics or focal_length_px (pixels) to the processor or to "
    "post_process_depth_estimation, or set assume_fov_deg on the image processor to assume a "
    "field of view explicitly"
)
# What post-processing assumes when nothing gives a focal length (the pipeline's plain call).
FALLBACK_FOV_DEG = 60.0
ASSUMED_FOV_WARNING = (
    "no focal length for this image (no intrinsics, focal_length_px or EXIF focal length): metric depth assumes "
    f"a {FALLBACK_FOV_DEG:g} degree horizontal field of view and is only as right as that guess; pass the real "
    "camera with image_processor=AutoImageProcessor.from_pretrained(DIR, focal_length_px=...) (or "
    "assume_fov_deg=...), or focal_length_px / intrinsics to the processor"
)
CALL_ARGUMENTS = ("intrinsics", "focal_length_px", "image_mean", "image_std", "size", "return_tensors")


def square_side(size) -> int:
    """Network input side from `size`: an int or {"height": S, "width": S}."""
    if isinstance(size, dict):
        if size.get("height") != size.get("width"):
            raise MaVlmInputError(f"size {size}: the network input is square; give one side, e.g. size=512")
        size = size["height"]
    return int(size)


class MetricAnythingImageProcessorKwargs(ImagesKwargs, total=False):
    assume_fov_deg: float | None
    intrinsics: list | torch.Tensor | None
    focal_length_px: float | list[float] | None


class MetricAnythingImageProcessor(BaseImageProcessor):
    """Prepares images for `MetricAnythingModel` / `MetricAnythingForDepthEstimation`.

    Args:
        size: side of the square network input (1536 as published).
        focal_length_px: if set, the focal length in pixels of every image that a call gives no
            camera for (a fixed camera, e.g. for `pipeline("depth-estimation", image_processor=...)`).
        assume_fov_deg: if set, images without a focal length (from the call, `focal_length_px` or
            their EXIF) get one from this horizontal field of view. `None` (default) means no
            assumption here: only post-processing falls back to `FALLBACK_FOV_DEG`, with a warning.
    """

    model_input_names = ["pixel_values"]
    valid_kwargs = MetricAnythingImageProcessorKwargs

    def __init__(self, size: int = 1536, image_mean=IMAGENET_MEAN, image_std=IMAGENET_STD,
                 assume_fov_deg: float | None = None, focal_length_px: float | None = None, **kwargs):
        super().__init__(**kwargs)
        self.size = square_side(size)
        self.image_mean = list(image_mean)
        self.image_std = list(image_std)
        self.assume_fov_deg = assume_fov_deg
        self.focal_length_px = None if focal_length_px is None else float(check_focal_length(focal_length_px, 1))

    def preprocess(self, images, intrinsics=None, focal_length_px=None, return_tensors="pt", image_mean=None,
                   image_std=None, size=None, **kwargs) -> BatchFeature:
        """images: one image or a list. intrinsics: one [fx, fy, cx, cy] per image (or one for
        all), in pixels of the image as given. focal_length_px: None, a number, or one per image,
        shorthand for a centred camera with fx = fy. Without either, the camera comes from the
        processor's `focal_length_px`, then each image's EXIF, then `assume_fov_deg`.
        image_mean / image_std / size: this call's normalisation and network side (defaults: the
        processor's); any other argument is refused in one line.

        Returns `pixel_values` (B, 3, S, S) and, when a camera is known, `intrinsics` (B, 4)
        rescaled to the pixels of `pixel_values` (fx by S / W and fy by S / H separately, the
        principal point by the convention of `ma_vlm.geometry`) and `focal_length_px` (B,), their
        fx, ready for the model.
        """
        refuse_unknown_arguments(type(self).__name__, kwargs, CALL_ARGUMENTS)
        if not isinstance(images, (list, tuple)):
            images = [images]
        side = self.size if size is None else square_side(size)
        tensors = [image_to_tensor(image) for image in images]
        mean = torch.tensor(self.image_mean if image_mean is None else image_mean, dtype=torch.float32).view(3, 1, 1)
        std = torch.tensor(self.image_std if image_std is None else image_std, dtype=torch.float32).view(3, 1, 1)
        pixel_values = torch.stack([self._resize((t - mean) / std, side) for t in tensors])
        data = {"pixel_values": pixel_values}
        sizes = [tuple(t.shape[-2:]) for t in tensors]
        if intrinsics is None and focal_length_px is None:
            focal_length_px = self.known_focal_lengths(images, sizes)
        camera = self.resolve_intrinsics(intrinsics, focal_length_px, sizes)
        if camera is not None:
            heights, widths = (torch.tensor(side, dtype=torch.float32) for side in zip(*sizes))
            data["intrinsics"] = scale_intrinsics(camera, side / widths, side / heights)
            data["focal_length_px"] = data["intrinsics"][:, 0]
        return BatchFeature(data=data, tensor_type=return_tensors)

    def known_focal_lengths(self, images, sizes: list[tuple[int, int]]) -> list[float] | None:
        """Focal lengths in pixels when no call argument gives them: the processor's
        `focal_length_px`, else each image's EXIF (`assume_fov_deg` fills images without one);
        None when some image has none."""
        if self.focal_length_px is not None:
            return [self.focal_length_px] * len(images)
        focal = [exif_focal_length_px(image) for image in images]
        if self.assume_fov_deg is not None:
            focal = [f if f is not None else focal_length_from_fov(w, self.assume_fov_deg) for f, (_, w) in
                     zip(focal, sizes)]  # fmt: skip
        return None if None in focal else focal

    def resolve_intrinsics(self, intrinsics, focal_length_px, sizes: list[tuple[int, int]]) -> torch.Tensor | None:
        """(B, 4) cameras in pixels of the images as given ((H, W) each), from `intrinsics`,
        `focal_length_px` or `assume_fov_deg` (centred); None when none is given."""
        if intrinsics is not None:
            if focal_length_px is not None:
                raise MaVlmInputError("give intrinsics or focal_length_px, not both (focal_length_px is fx)")
            return check_intrinsics(intrinsics, len(sizes))
        focal = self.resolve_focal_lengths(focal_length_px, [w for _, w in sizes])
        if focal is None:
            return None
        return torch.tensor([centred_intrinsics(f, w, h) for f, (h, w) in zip(focal.tolist(), sizes)])

    def prepare_prompt_depth(self, prompt_depth) -> torch.Tensor:
        """(H, W) sparse metric depth in metres of the image as given (0 = missing) ->
        (1, 1, S, S) float32 metres at network size, for the teacher's `prompt_depth`.

        Resizing keeps sparse points sparse and never blurs missing zeros into values: every
        valid pixel (u, v) lands in network pixel (floor((u + 0.5) S / W), floor((v + 0.5) S / H))
        and network pixels receiving several points take their mean (masked average pooling when
        shrinking, nearest placement without spreading when enlarging). NaN, inf and negative
        values are rejected rather than guessed.
        """
        depth = torch.as_tensor(np.asarray(prompt_depth.detach().cpu() if isinstance(prompt_depth, torch.Tensor)
                                           else prompt_depth), dtype=torch.float32)
        if depth.ndim == 3 and depth.shape[0] == 1:
            depth = depth[0]
        if depth.ndim != 2:
            raise MaVlmInputError(f"prompt_depth must be a (H, W) map in metres, got shape {tuple(depth.shape)}")
        if not torch.isfinite(depth).all():
            raise MaVlmInputError("prompt_depth contains NaN or inf; mark missing pixels with 0 (np.nan_to_num(d, nan=0))")
        if (depth < 0).any():
            raise MaVlmInputError("prompt_depth has negative values; give metres >= 0 with 0 = missing")
        height, width = depth.shape
        size = self.size
        rows, cols = torch.nonzero(depth > 0, as_tuple=True)
        target_rows = ((rows.double() + 0.5) * size / height).long().clamp_(0, size - 1)
        target_cols = ((cols.double() + 0.5) * size / width).long().clamp_(0, size - 1)
        flat = target_rows * size + target_cols
        total = torch.zeros(size * size).index_add_(0, flat, depth[rows, cols])
        count = torch.zeros(size * size).index_add_(0, flat, torch.ones_like(flat, dtype=torch.float32))
        resized = torch.where(count > 0, total / count.clamp_min(1), torch.zeros_like(total))
        return resized.view(1, 1, size, size)

    def _resize(self, image: torch.Tensor, side: int) -> torch.Tensor:
        if image.shape[-2:] == (side, side):
            return image
        return F.interpolate(image[None], size=(side, side), mode="bilinear", align_corners=False)[0]

    def resolve_focal_lengths(self, focal_length_px, widths_px: list[int]) -> torch.Tensor | None:
        """(B,) focal lengths in pixels of the original images, from the argument or from
        `assume_fov_deg`; None when neither is given."""
        if focal_length_px is None:
            if self.assume_fov_deg is None:
                return None
            return torch.tensor([focal_length_from_fov(w, self.assume_fov_deg) for w in widths_px])
        if isinstance(focal_length_px, (list, tuple)) and any(f is None for f in focal_length_px):
            raise MaVlmInputError("a focal length is None; give every image one, or none at all")
        return check_focal_length(focal_length_px, len(widths_px))

    def post_process_depth_estimation(self, outputs, target_sizes=None, focal_length_px=None,
                                      prompt_depth=None) -> list[dict]:
        """Metric depth in metres at `target_sizes` [(H, W), ...] (default: network size).

        Uses the model's `inverse_depth` when it was given a focal length; otherwise
        `focal_length_px` (pixels of the target-size image), the processor's `focal_length_px`
        (pixels of the image as given, so of the target size the pipeline passes) or
        `assume_fov_deg`; with none of them it assumes `FALLBACK_FOV_DEG` and warns once per call.
        prompt_depth: optional list of (H, W) sparse metric prompts at the target sizes (metres,
        0 = missing, None for an item without one) for a teacher with `prompt_alignment:
        residual`: the resized depth is aligned to its prompt again at that resolution
        (`prompt_fusion.align_depth_to_prompt`).
        """
        inverse = outputs.get("inverse_depth") if hasattr(outputs, "get") else outputs.inverse_depth
        canonical = outputs["canonical_inverse_depth"]
        batch = canonical.shape[0]
        if target_sizes is None:
            target_sizes = [tuple(canonical.shape[-2:])] * batch
        target_sizes = [tuple(int(v) for v in size) for size in target_sizes]
        if len(target_sizes) != batch:
            raise MaVlmInputError(f"{len(target_sizes)} target sizes for a batch of {batch}")
        if inverse is None or focal_length_px is not None:
            widths_px = [w for _, w in target_sizes]
            if focal_length_px is None and self.focal_length_px is not None:
                focal_length_px = [self.focal_length_px] * batch
            focal = self.resolve_focal_lengths(focal_length_px, widths_px)
            if focal is None:
                warnings.warn(ASSUMED_FOV_WARNING, UserWarning, stacklevel=2)
                focal = torch.tensor([focal_length_from_fov(w, FALLBACK_FOV_DEG) for w in widths_px])
            widths = torch.tensor([w for _, w in target_sizes], dtype=canonical.dtype, device=canonical.device)
            inverse = canonical_to_inverse_depth(canonical, focal.to(canonical), widths)
        prompts = [None] * batch if prompt_depth is None else list(prompt_depth)
        if len(prompts) != batch:
            raise MaVlmInputError(f"{len(prompts)} prompt depth maps for a batch of {batch}")
        results = []
        for item_inverse, size, prompt in zip(inverse, target_sizes, prompts):
            if tuple(item_inverse.shape) != size:
                item_inverse = F.interpolate(
                    item_inverse[None, None], size=size, mode="bilinear", align_corners=False
                )[0, 0]
            depth = inverse_depth_to_depth(item_inverse)
            if prompt is not None:
                prompt = torch.as_tensor(np.asarray(prompt, dtype=np.float32)).to(depth.device)
                if tuple(prompt.shape) != size:
                    raise MaVlmInputError(f"prompt_depth {tuple(prompt.shape)} must have the target size {size}")
                depth = align_depth_to_prompt(depth, prompt)
            results.append({"predicted_depth": depth})
        return results


__all__ = ["MetricAnythingImageProcessor", "image_to_tensor"]
