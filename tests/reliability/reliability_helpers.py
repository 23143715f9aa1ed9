"""Helpers of the reliability tests (importable: conftest.py holds only fixtures)."""

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def tiny_config(**overrides):
    """The tiny preset at 256 px input / 64 px tiles with narrow decoder widths (fast on CPU)."""
    from ma_vlm.models.metric_anything import preset_config
    from ma_vlm.models.metric_anything.presets import PRESETS

    backbone = {**PRESETS["tiny"]["backbone_config"], "image_size": 64}
    return preset_config("tiny", image_size=256, backbone_config=backbone, tile_overlaps=(0.0, 0.0),
                         tap_feature_dims=(8, 8, 8, 8), level_feature_dims=(8, 8, 16), decoder_hidden_size=8,
                         head_hidden_size=4, **overrides)


def save_tiny_model(folder: Path, use_prompt: bool = False, poison_nan: bool = False) -> Path:
    from ma_vlm.models.metric_anything import MetricAnythingForDepthEstimation, MetricAnythingImageProcessor

    torch.manual_seed(0)
    model = MetricAnythingForDepthEstimation(tiny_config(use_prompt=use_prompt)).eval()
    with torch.no_grad():  # random weights, but a head that predicts positive inverse depth
        model.head[-2].weight.abs_().mul_(0.05)
        model.head[-2].bias.fill_(0.5)
        if poison_nan:
            model.head[-2].bias.fill_(float("nan"))
    model.save_pretrained(folder)
    MetricAnythingImageProcessor(size=256).save_pretrained(folder)
    return folder


def write_photo(path: Path, width: int = 64, height: int = 48, focal_length_px: float | None = 60.0) -> Path:
    """An RGB PNG (and, with a focal length, its <stem>.json camera) at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((height, width, 3)) * 255).astype(np.uint8)).save(path)
    if focal_length_px is not None:
        path.with_suffix(".json").write_text(json.dumps(
            {"cam_in": [focal_length_px, focal_length_px, width / 2, height / 2]}))
    return path


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under `folder` (to assert nothing changed)."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}
