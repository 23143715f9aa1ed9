"""Pinhole cameras: the one camera convention of ma-vlm, its rescaling and back-projection.

The convention, stated once and used by the processor, data records, prompt resizing, point
clouds and the tower's `token_points`:

- A camera is `intrinsics` = [fx, fy, cx, cy] in pixels of one image size: a list or a (4,)
  tensor for one image, a (B, 4) tensor for a batch. `Intrinsics` is the same four numbers as a
  checked object for reading and building one camera (JSON sidecar, focal length, field of view).
- Pixel centres sit at integer coordinates (OpenCV's and the 3 x 3 K matrix's convention): pixel
  (row v, column u) is centred at (u, v), the image spans [-0.5, W - 0.5] x [-0.5, H - 0.5], and a
  centred principal point is ((W - 1) / 2, (H - 1) / 2). Resizing by (sx, sy) maps a coordinate
  x to (x + 0.5) * sx - 0.5, which is also where bilinear resizing with align_corners=False
  samples; fx and fy scale separately.
- Camera frame: OpenCV's (x right, y down, z forward), metres; depth is z-depth.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ma_vlm.errors import MaVlmInputError


def focal_length_from_fov(width_px: int, fov_deg: float) -> float:
    """Horizontal field of view (degrees) -> focal length in pixels."""
    if not 0 < fov_deg < 180:
        raise MaVlmInputError(f"field of view must be in (0, 180) degrees, got {fov_deg}")
    return 0.5 * width_px / math.tan(math.radians(fov_deg) / 2)


def centred_intrinsics(focal_length_px: float, width_px: int, height_px: int) -> list[float]:
    """[f, f, cx, cy]: square pixels, principal point at the image centre ((W - 1) / 2, (H - 1) / 2)."""
    return [float(focal_length_px), float(focal_length_px), (width_px - 1) / 2, (height_px - 1) / 2]


def scale_intrinsics(intrinsics, scale_x, scale_y):
    """The same camera for an image resized by (scale_x, scale_y) = (W' / W, H' / H).

    intrinsics: (..., 4) tensor or a [fx, fy, cx, cy] list; scales: numbers or (...) tensors.
    Returns the same type: fx * sx, fy * sy, (cx + 0.5) * sx - 0.5, (cy + 0.5) * sy - 0.5.
    """
    if not isinstance(intrinsics, torch.Tensor):
        fx, fy, cx, cy = (float(v) for v in intrinsics)
        return [fx * scale_x, fy * scale_y, (cx + 0.5) * scale_x - 0.5, (cy + 0.5) * scale_y - 0.5]
    scale = torch.stack(torch.broadcast_tensors(torch.as_tensor(scale_x, dtype=intrinsics.dtype),
                                                torch.as_tensor(scale_y, dtype=intrinsics.dtype)), dim=-1)
    scale = scale.to(intrinsics.device)
    focal = intrinsics[..., :2] * scale
    centre = (intrinsics[..., 2:] + 0.5) * scale - 0.5
    return torch.cat([focal, centre], dim=-1)


def check_intrinsics(intrinsics, batch: int, device=None) -> torch.Tensor:
    """Intrinsics as a (B, 4) float32 tensor; one camera is repeated over the batch. Rejects
    wrong shapes, non-finite values and non-positive focal lengths with a message that says how."""
    camera = torch.as_tensor(intrinsics, dtype=torch.float32, device=device)
    if camera.ndim == 1:
        camera = camera[None]
    if camera.ndim != 2 or camera.shape[-1] != 4:
        raise MaVlmInputError(f"intrinsics must be (B, 4) [fx, fy, cx, cy] in pixels, got shape {tuple(camera.shape)}")
    if camera.shape[0] == 1 and batch > 1:
        camera = camera.expand(batch, 4)
    if camera.shape[0] != batch:
        raise MaVlmInputError(f"got {camera.shape[0]} cameras for a batch of {batch} images; give one per image")
    # Value checks read the tensor on the host: an eager call checks, a traced graph (torch.compile,
    # torch.export, ONNX) has no branch on values and trusts what its caller checked.
    if not torch.compiler.is_compiling() and (not torch.isfinite(camera).all() or (camera[:, :2] <= 0).any()):
        raise MaVlmInputError(
            f"intrinsics must be finite with positive fx, fy in pixels, got {camera.tolist()}; "
            "pass [fx, fy, cx, cy] from the camera's calibration (or focal_length_px for a centred camera)"
        )
    return camera


def check_focal_length(focal_length_px, batch: int, device=None) -> torch.Tensor:
    """Focal lengths as a (B,) float tensor; rejects missing, non-finite or non-positive values."""
    focal = torch.as_tensor(focal_length_px, dtype=torch.float32, device=device).reshape(-1)
    if focal.numel() == 1 and batch > 1:
        focal = focal.expand(batch)
    if focal.numel() != batch:
        raise MaVlmInputError(f"got {focal.numel()} focal lengths for a batch of {batch} images; give one per image")
    # eager calls only: a traced graph cannot branch on values (`check_intrinsics`)
    if not torch.compiler.is_compiling() and (not torch.isfinite(focal).all() or (focal <= 0).any()):
        raise MaVlmInputError(
            f"focal length must be a positive finite number of pixels, got {focal.tolist()}; "
            "pass the camera's fx (e.g. from its intrinsics) or assume a field of view explicitly"
        )
    return focal


def backproject_pixels(u: torch.Tensor, v: torch.Tensor, depth_m: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    """Points of pixel coordinates (u, v) (..., N) at z-depth `depth_m` (B, N) metres with
    intrinsics (B, 4) -> (B, N, 3) metres in the camera frame. u, v broadcast against depth."""
    fx, fy, cx, cy = (intrinsics[:, index, None].to(depth_m.dtype) for index in range(4))
    x = (u - cx) / fx * depth_m
    y = (v - cy) / fy * depth_m
    return torch.stack([x, y, depth_m], dim=-1)


def backproject(depth_m, intrinsics):
    """Z-depth in metres -> points in metres in the camera frame, every pixel.

    Batched torch: depth (B, H, W) tensor, intrinsics (B, 4) -> (B, H, W, 3) on depth's device.
    One image: depth (H, W) (tensor or NumPy), intrinsics [fx, fy, cx, cy] / `Intrinsics` ->
    (H, W, 3), NumPy float32 for NumPy depth.
    """
    as_numpy = not isinstance(depth_m, torch.Tensor)
    depth = torch.as_tensor(np.asarray(depth_m) if as_numpy else depth_m)
    if not depth.is_floating_point():
        depth = depth.float()
    single = depth.ndim == 2
    if single:
        depth = depth[None]
    if depth.ndim != 3:
        raise MaVlmInputError(f"depth must be (B, H, W) or (H, W) metres, got shape {tuple(depth.shape)}")
    if isinstance(intrinsics, Intrinsics):
        intrinsics = intrinsics.as_list()
    camera = check_intrinsics(intrinsics, depth.shape[0], depth.device).to(torch.float64 if as_numpy else depth.dtype)
    height, width = depth.shape[-2:]
    v, u = torch.meshgrid(torch.arange(height, dtype=camera.dtype, device=depth.device),
                          torch.arange(width, dtype=camera.dtype, device=depth.device), indexing="ij")
    points = backproject_pixels(u.reshape(1, -1), v.reshape(1, -1), depth.reshape(depth.shape[0], -1).to(camera.dtype),
                                camera).view(depth.shape[0], height, width, 3)
    points = points[0] if single else points
    return points.numpy().astype(np.float32) if as_numpy else points.to(depth.dtype)


@dataclass(frozen=True)
class Intrinsics:
    """One camera, [fx, fy, cx, cy] in pixels of one image size (module docstring: convention)."""

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
        if isinstance(cam_in, np.ndarray):
            cam_in = cam_in.tolist()
        numbers = isinstance(cam_in, (list, tuple)) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in cam_in)
        if not numbers or len(cam_in) != 4:
            raise MaVlmInputError(f"cam_in must be a list of 4 numbers [fx, fy, cx, cy] in pixels, got {cam_in!r}")
        return cls(*(float(v) for v in cam_in))

    @classmethod
    def from_json(cls, path: str | Path) -> "Intrinsics":
        """From an official `<stem>.json` (`{"cam_in": [fx, fy, cx, cy]}`)."""
        try:
            cam_in = json.loads(Path(path).read_text())["cam_in"]
        except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as error:
            raise MaVlmInputError(f'{path}: expected {{"cam_in": [fx, fy, cx, cy]}} ({error})') from None
        try:
            return cls.from_cam_in(cam_in)
        except MaVlmInputError as error:
            raise MaVlmInputError(f"{path}: {error}") from None

    @classmethod
    def from_focal_length(cls, focal_length_px: float, width: int, height: int) -> "Intrinsics":
        """Square pixels, principal point at the image centre."""
        return cls(*centred_intrinsics(focal_length_px, width, height))

    @classmethod
    def from_fov(cls, fov_deg: float, width: int, height: int) -> "Intrinsics":
        """From a horizontal field of view in degrees."""
        return cls.from_focal_length(focal_length_from_fov(width, fov_deg), width, height)

    def scaled(self, scale_x: float, scale_y: float) -> "Intrinsics":
        """The same camera for an image resized by (scale_x, scale_y) (`scale_intrinsics`)."""
        return Intrinsics(*scale_intrinsics(self.as_list(), scale_x, scale_y))

    def as_list(self) -> list[float]:
        return [self.fx, self.fy, self.cx, self.cy]

    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], dtype=np.float64)
