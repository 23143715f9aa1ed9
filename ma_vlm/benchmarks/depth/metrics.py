"""Depth metrics of the monocular / prompted depth literature, and the benchmark protocols.

Per image, over valid ground-truth pixels (min < gt < max, inside the protocol's crop):
  abs_rel  = mean(|p - g| / g)            sq_rel = mean((p - g)^2 / g)
  rmse     = sqrt(mean((p - g)^2)) metres rmse_log = sqrt(mean((ln p - ln g)^2))
  log10    = mean(|log10 p - log10 g|)    delta_k = mean(max(p / g, g / p) < 1.25^k), k = 1, 2, 3
Predictions are clipped to [min, max] first (as in the Eigen / BTS / Prompt Depth Anything
evaluation code). Dataset scores are the mean of the per-image values. All values are
fractions (the papers print abs_rel and delta as %).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ma_vlm.errors import MaVlmInputError

METRIC_NAMES = ("abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "delta1", "delta2", "delta3",
                "abs_rel_median_scaled")


def crop_mask(shape: tuple[int, int], crop: str | None) -> np.ndarray:
    """(H, W) bool mask of a benchmark crop, as fractions of the image so it fits any size.

    ``eigen_nyu``: rows 45:471, cols 41:601 of NYUv2's 480 x 640 (Eigen et al. 2014);
    ``garg``: KITTI rows 0.4081-0.9919 H, cols 0.0359-0.9641 W (Garg et al. 2016);
    ``eigen_kitti``: KITTI rows 0.3324-0.9135 H, cols 0.0359-0.9641 W; ``None``: everything.
    """
    height, width = shape
    mask = np.zeros(shape, bool)
    if crop is None or crop == "none":
        mask[:] = True
    elif crop == "eigen_nyu":
        mask[int(round(45 / 480 * height)) : int(round(471 / 480 * height)),
             int(round(41 / 640 * width)) : int(round(601 / 640 * width))] = True
    elif crop == "garg":
        mask[int(0.40810811 * height) : int(0.99189189 * height),
             int(0.03594771 * width) : int(0.96405229 * width)] = True
    elif crop == "eigen_kitti":
        mask[int(0.3324324 * height) : int(0.91351351 * height),
             int(0.03594771 * width) : int(0.96405229 * width)] = True
    else:
        raise MaVlmInputError(f"unknown crop {crop!r}; use none, eigen_nyu, garg or eigen_kitti.")
    return mask


@dataclass(frozen=True)
class EvalProtocol:
    """Which pixels count: ``min_depth_m`` < gt < ``max_depth_m`` inside ``crop``."""

    min_depth_m: float = 1e-3
    max_depth_m: float | None = None
    crop: str | None = None


PROTOCOLS = {
    "nyuv2": EvalProtocol(1e-3, 10.0, "eigen_nyu"),
    "kitti": EvalProtocol(1e-3, 80.0, "garg"),
    "default": EvalProtocol(1e-3, None, None),
}


def depth_metrics(predicted_depth_m, gt_depth_m, protocol: EvalProtocol = EvalProtocol(),
                  valid_mask=None) -> dict[str, float] | None:
    """The metrics of one image (``None`` if it has no valid ground-truth pixel).

    predicted_depth_m, gt_depth_m: (H, W) metres; gt 0 = invalid. ``valid_mask``: optional
    extra (H, W) bool restriction.
    """
    predicted = np.asarray(predicted_depth_m, np.float64)
    gt = np.asarray(gt_depth_m, np.float64)
    if predicted.shape != gt.shape:
        raise MaVlmInputError(
            f"prediction shape {predicted.shape} != ground truth {gt.shape}; predict at the image size."
        )
    if not np.all(np.isfinite(predicted)):
        raise MaVlmInputError("prediction contains NaN or inf; a depth model must output finite metres.")
    max_depth = np.inf if protocol.max_depth_m is None else protocol.max_depth_m
    valid = np.isfinite(gt) & (gt > protocol.min_depth_m) & (gt < max_depth)
    valid &= crop_mask(gt.shape, protocol.crop)
    if valid_mask is not None:
        valid &= np.asarray(valid_mask, bool)
    if not valid.any():
        return None
    p = np.clip(predicted[valid], protocol.min_depth_m, max_depth)
    g = gt[valid]
    ratio = np.maximum(p / g, g / p)
    # The shape alone: the prediction times median(gt) / median(pred), as relative-depth
    # benchmarks align it. abs_rel minus this is what the metric scale costs.
    scaled = p * (np.median(g) / np.median(p))
    return {
        "abs_rel": float(np.mean(np.abs(p - g) / g)),
        "sq_rel": float(np.mean((p - g) ** 2 / g)),
        "rmse": float(np.sqrt(np.mean((p - g) ** 2))),
        "rmse_log": float(np.sqrt(np.mean((np.log(p) - np.log(g)) ** 2))),
        "log10": float(np.mean(np.abs(np.log10(p) - np.log10(g)))),
        "delta1": float(np.mean(ratio < 1.25)),
        "delta2": float(np.mean(ratio < 1.25**2)),
        "delta3": float(np.mean(ratio < 1.25**3)),
        "abs_rel_median_scaled": float(np.mean(np.abs(scaled - g) / g)),
    }


def mean_metrics(per_image: list[dict[str, float]]) -> dict[str, float]:
    """Per-image-mean aggregation (the standard for NYUv2 / KITTI tables)."""
    if not per_image:
        raise MaVlmInputError("no image had valid ground truth; check the depth range and crop.")
    return {name: float(np.mean([m[name] for m in per_image])) for name in METRIC_NAMES}
