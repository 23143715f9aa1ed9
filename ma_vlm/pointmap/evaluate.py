"""Scores of a point-map model: intrinsics error and point-map / depth metrics after the standard
alignments, on any depth benchmark that carries ground-truth intrinsics (our rendered RGB-D data,
folders with `<stem>.json` cam_in, NYUv2, KITTI).

Intrinsics: relative focal error |f / f_gt - 1| (fx), principal-point error in pixels.
Point maps (ground truth = depth back-projected with the true intrinsics), MoGe's relative point
error ||p - p_gt|| / ||p_gt|| averaged (`point_rel`) and its inlier rate below 0.25 (`point_delta`),
after three alignments: `metric` (none), `scale` (one least-squares scale), `affine` (scale and a
3D translation), each a least-squares fit weighted by 1 / ||p_gt||^2. Depth (z) AbsRel and delta1 in metres (`metric`) and after median scaling (`scale`).
The `baseline:fov60` predictor returns a fixed 60-degree horizontal field of view, centred
principal point, and no point map.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ma_vlm.errors import MaVlmInputError

BASELINE_FOV_DEG = 60.0


def align_points(pred: np.ndarray, gt: np.ndarray, how: str) -> np.ndarray:
    """(N, 3) predicted points aligned to (N, 3) ground truth: `metric` (as is), `scale` or `affine`
    (scale + 3D translation), by least squares weighted by 1 / ||p_gt||^2 so the fit minimises the
    relative error the metric reports (far points do not dominate)."""
    if how == "metric":
        return pred
    weight = 1.0 / np.maximum(np.sum(gt * gt, axis=1, keepdims=True), 1e-12)
    if how == "scale":
        return pred * (np.sum(weight * pred * gt) / max(np.sum(weight * pred * pred), 1e-12))
    total = weight.sum()
    pred_mean, gt_mean = (weight * pred).sum(0) / total, (weight * gt).sum(0) / total
    centred = pred - pred_mean
    scale = np.sum(weight * centred * (gt - gt_mean)) / max(np.sum(weight * centred * centred), 1e-12)
    return scale * centred + gt_mean


def point_metrics(pred_points: np.ndarray, gt_points: np.ndarray) -> dict[str, float]:
    metrics = {}
    for how in ("metric", "scale", "affine"):
        aligned = align_points(pred_points, gt_points, how)
        rel = np.linalg.norm(aligned - gt_points, axis=1) / np.linalg.norm(gt_points, axis=1)
        metrics[f"point_rel_{how}"] = float(rel.mean())
        metrics[f"point_delta_{how}"] = float((rel < 0.25).mean())
    return metrics


def depth_metrics_z(pred_depth: np.ndarray, gt_depth: np.ndarray) -> dict[str, float]:
    metrics = {}
    for how, pred in (("metric", pred_depth), ("scale", pred_depth * np.median(gt_depth) / np.median(pred_depth))):
        ratio = np.maximum(pred / gt_depth, gt_depth / pred)
        metrics[f"depth_abs_rel_{how}"] = float(np.mean(np.abs(pred - gt_depth) / gt_depth))
        metrics[f"depth_delta1_{how}"] = float(np.mean(ratio < 1.25))
    return metrics


def score_sample(prediction, sample: dict) -> dict[str, float]:
    """prediction: `PointMapPrediction`-like (intrinsics, and points_m/depth_m/mask or None)."""
    from ma_vlm.geometry import Intrinsics, backproject

    gt_k = sample["intrinsics"]
    fx = prediction.intrinsics[0]
    scores = {"focal_rel_error": abs(fx / gt_k[0] - 1),
              "principal_point_error_px": float(np.hypot(prediction.intrinsics[2] - gt_k[2],
                                                         prediction.intrinsics[3] - gt_k[3])),
              "fov_x_error_deg": abs(_fov(fx, sample["image"].shape[1]) - _fov(gt_k[0], sample["image"].shape[1])),
              "fov_x_deg": _fov(fx, sample["image"].shape[1]), "fov_x_true_deg": _fov(gt_k[0], sample["image"].shape[1])}
    if getattr(prediction, "points_m", None) is None:
        return scores
    gt_depth = sample["depth"]
    valid = np.isfinite(gt_depth) & (gt_depth > 0) & prediction.mask & (prediction.depth_m > 0)
    if valid.sum() < 10:
        return scores
    gt_points = backproject(gt_depth, Intrinsics.from_cam_in(gt_k))
    scores.update(point_metrics(prediction.points_m[valid].astype(np.float64), gt_points[valid].astype(np.float64)))
    scores.update(depth_metrics_z(prediction.depth_m[valid].astype(np.float64), gt_depth[valid].astype(np.float64)))
    scores["mask_recall"] = float((prediction.mask & (gt_depth > 0)).sum() / max((gt_depth > 0).sum(), 1))
    return scores


def _fov(focal_px: float, width: int) -> float:
    return float(np.degrees(2 * np.arctan(width / (2 * focal_px))))


class _Baseline:
    def __init__(self, intrinsics):
        self.intrinsics, self.points_m = intrinsics, None


def load_pointmap_predictor(model: str, resolution_level: int = 9, num_tokens: int | None = None) -> Callable:
    """`predict(image) -> prediction`: a point-map model folder, or `baseline:fov60`."""
    if model == "baseline:fov60":
        def baseline(image):
            height, width = image.shape[:2]
            focal = width / 2 / np.tan(np.radians(BASELINE_FOV_DEG) / 2)
            return _Baseline([focal, focal, (width - 1) / 2, (height - 1) / 2])

        return baseline
    if model.startswith("baseline:"):
        raise MaVlmInputError(f"unknown baseline {model!r}; the point-map baseline is baseline:fov60")
    from ma_vlm.pointmap.inference import PointMapEstimator

    return PointMapEstimator(model, resolution_level=resolution_level, num_tokens=num_tokens)


def summarise(per_image: list[dict]) -> dict[str, float]:
    """Means of every score (and the median focal error) over per-image rows."""
    names = sorted({k for row in per_image for k in row if k not in ("scene_id", "camera_model_id")})
    means = {name: float(np.mean([row[name] for row in per_image if name in row])) for name in names}
    means["focal_rel_error_median"] = float(np.median([row["focal_rel_error"] for row in per_image]))
    return means


def evaluate_pointmap(predict: Callable, benchmark, limit: int | None = None, seen_camera_models=None) -> dict:
    """Per-image scores and their means (focal errors also as median). `seen_camera_models`: camera
    ids used in training (e.g. range(200) for `--camera-models 200`); the report then also gives
    `metrics_held_out_cameras` over the images whose camera was never seen."""
    from tqdm import tqdm

    per_image = []
    total = benchmark.num_samples if limit is None else min(limit, benchmark.num_samples)
    for index, sample in enumerate(tqdm(benchmark.samples(), total=total, desc="point map eval", unit="image")):
        if limit is not None and index >= limit:
            break
        scores = score_sample(predict(sample["image"]), sample)
        per_image.append({"scene_id": sample.get("scene_id", str(index)),
                          "camera_model_id": int(sample.get("camera_model_id", -1)), **scores})
    if not per_image:
        raise MaVlmInputError("the benchmark yielded no images")
    report = {"num_images": len(per_image), "metrics": summarise(per_image), "per_image": per_image}
    if seen_camera_models is not None:
        seen = set(seen_camera_models)
        held_out = [row for row in per_image if row["camera_model_id"] not in seen]
        report["num_images_held_out_cameras"] = len(held_out)
        report["metrics_held_out_cameras"] = summarise(held_out) if held_out else None
    return report
