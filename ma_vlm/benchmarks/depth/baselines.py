"""Interpolation baselines: densify the sparse prompt and ignore the image.

The floor a prompted teacher must beat: with a dense enough prompt (grid:8) interpolation is
already strong; with lidar lines or extreme sparsity it is not.
"""

from __future__ import annotations

import numpy as np

from ma_vlm.errors import MaVlmInputError


class InterpolationBaseline:
    """``predict(image, intrinsics, prompt_depth) -> (H, W) float32 metres``.

    method: "nearest" (each pixel takes its nearest prompt point) or "linear" (Delaunay
    barycentric interpolation, nearest outside the prompt's convex hull).
    """

    def __init__(self, method: str = "linear"):
        if method not in ("nearest", "linear"):
            raise MaVlmInputError(f"interpolation method {method!r}: use baseline:nearest or baseline:linear.")
        self.method = method

    def __call__(self, image, intrinsics, prompt_depth) -> np.ndarray:
        from scipy.interpolate import griddata
        from scipy.spatial import QhullError

        if prompt_depth is None:
            raise MaVlmInputError("the interpolation baseline needs a prompt; pass --prompt (e.g. grid:8).")
        prompt = np.asarray(prompt_depth, np.float32)
        rows, cols = np.nonzero(prompt > 0)
        if rows.size == 0:
            raise MaVlmInputError("the prompt is empty (all 0); the baseline has nothing to interpolate.")
        points, values = np.stack([rows, cols], 1).astype(np.float64), prompt[rows, cols]
        grid = tuple(np.mgrid[0 : prompt.shape[0], 0 : prompt.shape[1]].astype(np.float64))
        nearest = griddata(points, values, grid, method="nearest")
        if self.method == "nearest" or rows.size < 3:
            return nearest.astype(np.float32)
        try:
            linear = griddata(points, values, grid, method="linear")
        except QhullError:  # collinear points (a single scan line) have no triangulation
            return nearest.astype(np.float32)
        return np.where(np.isfinite(linear), linear, nearest).astype(np.float32)
