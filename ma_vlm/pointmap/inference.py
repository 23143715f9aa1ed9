"""Point map, depth, mask and intrinsics of one image: the function the CLI, fusion and eval call."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class PointMapPrediction:
    """points_m: (H, W, 3) metres (OpenCV camera frame); depth_m: (H, W) metres; mask: (H, W)
    bool; intrinsics: [fx, fy, cx, cy] pixels of the image (pixel centres at integers)."""

    points_m: np.ndarray
    depth_m: np.ndarray
    mask: np.ndarray
    intrinsics: list[float]
    metric_scale: float


def is_pointmap_model(model: str) -> bool:
    """True when `model` is a folder whose config is a `metric_anything_pointmap`."""
    config = Path(model) / "config.json"
    if not config.is_file():
        return False
    try:
        return json.loads(config.read_text()).get("model_type") == "metric_anything_pointmap"
    except (json.JSONDecodeError, OSError):
        return False


class PointMapEstimator:
    """A loaded point-map model + processor. `estimator(image)` -> `PointMapPrediction`."""

    def __init__(self, model: str, device: str | None = None, resolution_level: int = 9,
                 num_tokens: int | None = None, camera_solver: str | None = None):
        import torch

        from ma_vlm.model_folders import POINTMAP_MODEL, check_model_folder, load_failure
        from ma_vlm.models.metric_anything_pointmap import (
            MetricAnythingForPointMapEstimation,
            MetricAnythingPointMapImageProcessor,
        )

        check_model_folder(model, "--model", POINTMAP_MODEL, hub=False)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        overrides = {} if camera_solver is None else {"camera_solver": camera_solver}  # None: the folder's config
        try:
            self.model = MetricAnythingForPointMapEstimation.from_pretrained(model, **overrides).to(self.device).eval()
            self.processor = MetricAnythingPointMapImageProcessor.from_pretrained(model)
        except (OSError, ValueError) as error:
            raise load_failure("--model", model, error) from None
        self.resolution_level, self.num_tokens = resolution_level, num_tokens

    def __call__(self, image, fov_x_deg=None, focal_length_px=None) -> PointMapPrediction:
        import torch

        pixel_values = self.processor(image)["pixel_values"].to(self.device)
        with torch.no_grad():
            out = self.model(pixel_values, num_tokens=self.num_tokens, resolution_level=self.resolution_level,
                             fov_x_deg=fov_x_deg, focal_length_px=focal_length_px)
        mask = out.mask[0].cpu().numpy()
        depth = np.where(mask, out.predicted_depth[0].cpu().numpy(), 0).astype(np.float32)
        points = np.where(mask[..., None], out.points[0].cpu().numpy(), 0).astype(np.float32)
        return PointMapPrediction(points, depth, mask, [float(v) for v in out.intrinsics[0].tolist()],
                                  float(out.metric_scale[0]))
