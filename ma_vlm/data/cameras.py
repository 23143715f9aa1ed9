"""The camera zoo: thousands of distinct pinhole cameras (image size x focal length).

The paper's scaling trend is over the number of distinct camera models, so a camera model here
is one ``(width_px, height_px, focal_length_px)`` triple. Pixels are square (fx = fy) and the
principal point is the image centre: MuJoCo's camera has one vertical ``fovy``, so fx != fy is
not expressible without resampling the render, and principal-point offsets differ in sign
between MuJoCo versions. Aspect-ratio variety comes from the image sides instead.

``camera_zoo(n)`` returns the first ``n`` models of one fixed shuffle of the full grid, so
smaller zoos are subsets of larger ones (a clean axis for scaling experiments).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ma_vlm.errors import MaVlmInputError

# width:height ratios of common sensors, portrait included.
ASPECT_RATIOS = (
    (1, 1), (5, 4), (4, 3), (3, 2), (16, 10), (16, 9), (2, 1), (21, 9), (3, 4), (9, 16),
)
# Horizontal field of view from a long lens to a wide-angle one.
HORIZONTAL_FOV_DEG = tuple(float(v) for v in np.linspace(35.0, 115.0, 33))
# Principal-point offsets as fractions of the image side (real lenses: within a few %).
PRINCIPAL_OFFSET_FRACTIONS = (0.0, -0.03, 0.03)
ZOO_SHUFFLE_SEED = 20260130


@dataclass(frozen=True)
class CameraModel:
    """A pinhole camera: square pixels, principal point ``principal_offset_px`` (dx, dy) whole
    pixels from the image centre (positive: right / down)."""

    camera_model_id: int
    width_px: int
    height_px: int
    focal_length_px: float
    principal_offset_px: tuple[int, int] = (0, 0)

    @property
    def intrinsics(self) -> list[float]:
        """[fx, fy, cx, cy] in pixels (convention: `ma_vlm.geometry`)."""
        from ma_vlm.geometry import centred_intrinsics

        fx, fy, cx, cy = centred_intrinsics(self.focal_length_px, self.width_px, self.height_px)
        dx, dy = self.principal_offset_px
        return [fx, fy, cx + dx, cy + dy]

    @property
    def render_size_px(self) -> tuple[int, int]:
        """(width, height) of the centred render the image is cut from."""
        dx, dy = self.principal_offset_px
        return self.width_px + 2 * abs(dx), self.height_px + 2 * abs(dy)

    @property
    def crop_origin_px(self) -> tuple[int, int]:
        """(x0, y0) of the image window inside the render: the optical axis, at the render's
        centre, lands (dx, dy) from the window's centre."""
        dx, dy = self.principal_offset_px
        return abs(dx) - dx, abs(dy) - dy

    @property
    def fovy_deg(self) -> float:
        """MuJoCo's vertical field of view of the render: fy = H_render / (2 tan(fovy/2))."""
        height = self.render_size_px[1]
        return math.degrees(2.0 * math.atan(height / (2.0 * self.focal_length_px)))


# Models refuse images under 32 px a side (MetricAnythingImageProcessor), so no camera makes one.
MIN_SHORT_SIDE_PX = 32


def _image_sizes(max_side_px: int, min_side_px: int) -> list[tuple[int, int]]:
    """(width, height) pairs: every aspect ratio at several scales, sides multiples of 8."""
    sizes = set()
    for ratio_w, ratio_h in ASPECT_RATIOS:
        for long_side in range(min_side_px, max_side_px + 1, 8):
            if ratio_w >= ratio_h:
                width, height = long_side, round(long_side * ratio_h / ratio_w / 8) * 8
            else:
                height, width = long_side, round(long_side * ratio_w / ratio_h / 8) * 8
            if min(width, height) >= MIN_SHORT_SIDE_PX:
                sizes.add((width, height))
    return sorted(sizes)


def full_camera_grid(max_side_px: int = 640, min_side_px: int = 48) -> list[tuple]:
    """All (width_px, height_px, focal_length_px, (dx_px, dy_px)) combinations, in a fixed order."""
    grid = []
    for width, height in _image_sizes(max_side_px, min_side_px):
        offsets = sorted({(round(fx * width), round(fy * height))
                          for fx in PRINCIPAL_OFFSET_FRACTIONS for fy in PRINCIPAL_OFFSET_FRACTIONS})
        for fov_deg in HORIZONTAL_FOV_DEG:
            focal = width / (2.0 * math.tan(math.radians(fov_deg) / 2.0))
            grid.extend((width, height, round(focal, 3), offset) for offset in offsets)
    return grid


@functools.lru_cache(maxsize=8)
def camera_zoo(num_models: int, max_side_px: int = 640, min_side_px: int = 48,
               names: tuple[str, str] = ("--camera-models", "--max-side")) -> tuple[CameraModel, ...]:
    """The first ``num_models`` cameras of a fixed shuffle of ``full_camera_grid``.

    Deterministic (no seed argument on purpose: the zoo is a property of the dataset version).
    With the defaults the grid holds over 200,000 distinct intrinsics. ``names``: what the user
    calls the model count and the max side (flags, or recipe keys) in the error message.
    """
    grid = full_camera_grid(max_side_px, min_side_px)
    if not 1 <= num_models <= len(grid):
        raise MaVlmInputError(
            f"{names[0]} must be between 1 and {len(grid)} for max side {max_side_px} px, "
            f"got {num_models}; raise {names[1]} for more models."
        )
    order = np.random.default_rng(ZOO_SHUFFLE_SEED).permutation(len(grid))
    return tuple(
        CameraModel(int(i), *grid[j])
        for i, j in enumerate(order[:num_models])
    )
