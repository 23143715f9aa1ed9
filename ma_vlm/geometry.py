"""Pinhole cameras: intrinsics as an explicit object, and depth back-projection.

Camera frame is OpenCV's (x right, y down, z forward), metres; depth is z-depth.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ma_vlm.errors import MaVlmInputError


def focal_length_from_fov(width_px: int, fov_deg: float) -> float:
    """Horizontal field of view (degrees) -> focal length in pixels."""
    if not 0 < fov_deg < 180:
        raise MaVlmInputError(f"field of view must be in (0, 180) degrees, got {fov_deg}")
    return 0.5 * width_px / math.tan(math.radians(fov_deg) / 2)


@dataclass(frozen=True)
class Intrinsics:
    """Focal lengths and principal point in pixels of one image size."""

    fx: float
    fy: float
    cx: float
    cy: float

    def __post_init__(self):
        for name in ("fx", "fy"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise MaVlmInputError(f"intrinsics {name} must be a positive finite number of pixels, got {value}")
        if not (math.isfinite(self.cx) and math.isfinite(self.cy)):
            raise MaVlmInputError(f"principal point must be finite, got ({self.cx}, {self.cy})")

    @classmethod
    def from_cam_in(cls, cam_in) -> "Intrinsics":
        """From the official `[fx, fy, cx, cy]` list."""
        if len(cam_in) != 4:
            raise MaVlmInputError(f"cam_in must be [fx, fy, cx, cy], got {cam_in}")
        return cls(*(float(v) for v in cam_in))

    @classmethod
    def from_json(cls, path: str | Path) -> "Intrinsics":
        """From an official `<stem>.json` (`{"cam_in": [fx, fy, cx, cy]}`)."""
        try:
            cam_in = json.loads(Path(path).read_text())["cam_in"]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise MaVlmInputError(f'{path}: expected {{"cam_in": [fx, fy, cx, cy]}} ({error})') from None
        return cls.from_cam_in(cam_in)

    @classmethod
    def from_focal_length(cls, focal_length_px: float, width: int, height: int) -> "Intrinsics":
        """Square pixels, principal point at the image centre."""
        return cls(float(focal_length_px), float(focal_length_px), width / 2, height / 2)

    @classmethod
    def from_fov(cls, fov_deg: float, width: int, height: int) -> "Intrinsics":
        """From a horizontal field of view in degrees."""
        return cls.from_focal_length(focal_length_from_fov(width, fov_deg), width, height)

    def scaled(self, scale_x: float, scale_y: float) -> "Intrinsics":
        """The same camera for an image resized by (scale_x, scale_y)."""
        return Intrinsics(self.fx * scale_x, self.fy * scale_y, self.cx * scale_x, self.cy * scale_y)

    def as_list(self) -> list[float]:
        return [self.fx, self.fy, self.cx, self.cy]

    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], dtype=np.float64)


def backproject(depth_m: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    """(H, W) z-depth in metres -> (H, W, 3) points in the camera frame, metres.

    Pixel centres sit at integer (u, v), the convention of the matrix K = [[fx, 0, cx], ...].
    """
    height, width = depth_m.shape
    u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    z = depth_m.astype(np.float64)
    x = (u - intrinsics.cx) / intrinsics.fx * z
    y = (v - intrinsics.cy) / intrinsics.fy * z
    return np.stack([x, y, z], axis=-1).astype(np.float32)


def backproject_batch(depth_m, intrinsics):
    """Torch, batched: (B, H, W) z-depth in metres and (B, 4) [fx, fy, cx, cy] in pixels ->
    (B, H, W, 3) camera-frame points in metres (pixel centres at integer (u, v), as `backproject`)."""
    import torch

    batch, height, width = depth_m.shape
    v, u = torch.meshgrid(torch.arange(height, dtype=depth_m.dtype, device=depth_m.device),
                          torch.arange(width, dtype=depth_m.dtype, device=depth_m.device), indexing="ij")
    fx, fy, cx, cy = (intrinsics[:, i, None, None].to(depth_m.dtype) for i in range(4))
    return torch.stack([(u - cx) / fx * depth_m, (v - cy) / fy * depth_m, depth_m], dim=-1)
