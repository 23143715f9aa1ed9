"""Metric depth from one image: the function the CLI, evaluation and demos call."""

from __future__ import annotations

import numpy as np
import torch

from ma_vlm.encoders.image_processing_metric_anything import MISSING_FOCAL_LENGTH
from ma_vlm.errors import MaVlmInputError


@torch.no_grad()
def predict_metric_depth(model, processor, image, focal_length_px: float | None = None, prompt_depth=None,
                         intrinsics=None) -> np.ndarray:
    """(H, W) float32 depth in metres for `image` (PIL or (H, W, 3) uint8), at its own size.

    intrinsics: [fx, fy, cx, cy] in pixels of `image`, or focal_length_px (fx) for a centred
    camera; neither only if the processor has `assume_fov_deg`.
    prompt_depth: optional (H, W) sparse metric depth in metres (0 = missing) for a prompt-based
    (teacher) model.
    """
    inputs = processor(image, intrinsics=None if intrinsics is None else [intrinsics], focal_length_px=focal_length_px)
    if "intrinsics" not in inputs:
        raise MaVlmInputError(MISSING_FOCAL_LENGTH)
    parameter = next(model.parameters())
    kwargs = {"pixel_values": inputs["pixel_values"].to(parameter.device, parameter.dtype),
              "intrinsics": inputs["intrinsics"].to(parameter.device)}
    if prompt_depth is not None:
        kwargs["prompt_depth"] = processor.prepare_prompt_depth(prompt_depth).to(parameter.device, parameter.dtype)
    outputs = model(**kwargs)
    height, width = np.asarray(image).shape[:2]
    result = processor.post_process_depth_estimation(
        {"inverse_depth": outputs.inverse_depth.float(), "canonical_inverse_depth": outputs.canonical_inverse_depth},
        target_sizes=[(height, width)],
    )
    return result[0]["predicted_depth"].cpu().numpy().astype(np.float32)
