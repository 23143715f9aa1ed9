"""Metric depth from one image: the function the CLI, evaluation and demos call."""

from __future__ import annotations

import numpy as np
import torch

from ma_vlm.errors import MaVlmInputError
from ma_vlm.models.metric_anything.image_processing_metric_anything import MISSING_FOCAL_LENGTH


def load_depth_model(source: str, flag: str = "--model", **kwargs):
    """`MetricAnythingForDepthEstimation.from_pretrained(source)` in eval mode, or an error naming
    `source`: a mistyped local folder (never sent to the Hub), a truncated or foreign weights file,
    or weights that hold NaN/inf (which would give all-NaN depth)."""
    from pathlib import Path

    from ma_vlm.inputs import check_hub_id, refuse_custom_code
    from ma_vlm.models.metric_anything.modeling_metric_anything import MetricAnythingForDepthEstimation

    path = Path(source)
    if path.is_file():
        raise MaVlmInputError(f"{flag} {source} is a file; give a model folder (ma-vlm convert or pretrain output), "
                              "or convert the checkpoint first with ma-vlm convert")
    if not path.is_dir():
        check_hub_id(str(source), flag)
    elif not (path / "config.json").is_file():
        raise MaVlmInputError(f"{flag} {source} has no config.json; give a ma-vlm convert / pretrain model folder")
    refuse_custom_code(path, flag)
    try:
        model = MetricAnythingForDepthEstimation.from_pretrained(source, **kwargs)
    except MaVlmInputError:
        raise
    except Exception as error:  # OSError, SafetensorError, ValueError from a foreign/truncated folder
        message = " ".join(str(error).split())[:300]
        raise MaVlmInputError(f"{flag} {source} could not be loaded ({type(error).__name__}: {message})") from None
    broken = [name for name, parameter in model.named_parameters() if not torch.isfinite(parameter).all()]
    if broken:
        raise MaVlmInputError(f"{flag} {source} has NaN/inf weights ({len(broken)} tensors, e.g. {broken[0]}); "
                              "the checkpoint is corrupt: convert or train it again")
    return model.eval()


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
    # A residual-aligned teacher is aligned to its prompt again at the image's own resolution.
    realign = prompt_depth is not None and getattr(model.config, "prompt_alignment", "none") == "residual"
    result = processor.post_process_depth_estimation(
        {"inverse_depth": outputs.inverse_depth.float(), "canonical_inverse_depth": outputs.canonical_inverse_depth},
        target_sizes=[(height, width)], prompt_depth=[prompt_depth] if realign else None,
    )
    return result[0]["predicted_depth"].cpu().numpy().astype(np.float32)
