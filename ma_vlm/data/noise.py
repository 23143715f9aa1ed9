"""Noisy depth sources: turn a clean metric depth map into what a real sensor or
reconstruction gives (the paper's "noisy heterogeneous sources").

Every simulator has the signature ``simulate_<name>(depth_m, intrinsics, *, image=None,
seed=0, **parameters) -> SensorDepth``: ``depth_m`` (H, W) float32 metres with 0 = invalid,
``intrinsics`` [fx, fy, cx, cy] pixels, ``image`` (H, W, 3) uint8 when the sensor depends on
appearance (ToF on dark surfaces, stereo/SfM on texture). Same inputs and seed -> identical
output. Output depth is metres at the input resolution with 0 wherever ``valid_mask`` is False.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ma_vlm.errors import MaVlmInputError


@dataclass
class SensorDepth:
    depth_m: np.ndarray  # (H, W) float32 metres, 0 = invalid
    valid_mask: np.ndarray  # (H, W) bool, True where depth_m > 0
    source: str  # "lidar", "tof", "stereo", "sfm", "mvs", "lowres"
    scale_factor: float = 1.0  # depth_m = scale_factor x metric depth (SfM without scale)
    metadata: dict = field(default_factory=dict)


def check_depth(depth_m, name: str = "depth_m") -> np.ndarray:
    """(H, W) finite float32 metres >= 0, or ``MaVlmInputError``."""
    depth = np.asarray(depth_m, dtype=np.float32)
    if depth.ndim != 2:
        raise MaVlmInputError(f"{name} must be a (H, W) map in metres, got shape {depth.shape}.")
    if not np.all(np.isfinite(depth)):
        raise MaVlmInputError(
            f"{name} contains NaN or inf; mark invalid pixels with 0 (np.nan_to_num(d, nan=0, posinf=0))."
        )
    if np.any(depth < 0):
        raise MaVlmInputError(f"{name} has negative values; depth is metres >= 0 with 0 = invalid.")
    return depth


def _finish(depth: np.ndarray, valid: np.ndarray, source: str, **extra) -> SensorDepth:
    valid = valid & np.isfinite(depth) & (depth > 0)
    out = np.where(valid, depth, 0.0).astype(np.float32)
    return SensorDepth(out, valid, source, **extra)


def _luminance(image) -> np.ndarray:
    """(H, W) float32 in [0, 1] (Rec. 601 luma)."""
    rgb = np.asarray(image, np.float32) / 255.0
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def _texture_strength(image) -> np.ndarray:
    """(H, W) local gradient magnitude of the luma, averaged over a 3x3 window."""
    from scipy.ndimage import uniform_filter

    luma = _luminance(image)
    gy, gx = np.gradient(luma)
    return uniform_filter(np.hypot(gx, gy), size=3)


def _ray_length_factor(shape, intrinsics) -> np.ndarray:
    """(H, W) ratio range / z-depth of each pixel's ray (pixel centres at integer u, v)."""
    fx, fy, cx, cy = intrinsics
    v, u = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    return np.sqrt(1.0 + ((u - cx) / fx) ** 2 + ((v - cy) / fy) ** 2)


def simulate_lidar(depth_m, intrinsics, *, image=None, seed=0, num_beams=64,
                   vertical_fov_deg=None, azimuth_step_deg=0.2, range_min_m=0.5,
                   range_max_m=80.0, range_noise_m=0.02, dropout=0.1) -> SensorDepth:
    """A spinning LiDAR co-located with the camera: ``num_beams`` scan lines at equally spaced
    elevations (default: spanning the image's vertical field of view), an azimuth step, a
    range window, Gaussian range noise (along the ray) and random dropout of returns."""
    depth = check_depth(depth_m)
    rng = np.random.default_rng(seed)
    height, width = depth.shape
    fx, fy, cx, cy = intrinsics
    if vertical_fov_deg is None:
        low, high = -np.arctan((height - 0.5 - cy) / fy), np.arctan((cy + 0.5) / fy)
    else:
        low, high = np.radians(vertical_fov_deg[0]), np.radians(vertical_fov_deg[1])
    elevations = np.linspace(low, high, num_beams)
    azimuths = np.arange(np.arctan((-0.5 - cx) / fx), np.arctan((width - 0.5 - cx) / fx),
                         np.radians(azimuth_step_deg))
    elev, azim = np.meshgrid(elevations, azimuths, indexing="ij")
    u = np.round(cx + fx * np.tan(azim)).astype(np.int64)  # pixel centres at integers
    v = np.round(cy - fy * np.tan(elev) / np.cos(azim)).astype(np.int64)
    inside = (u >= 0) & (u < width) & (v >= 0) & (v < height)
    hit = np.zeros_like(depth, dtype=bool)
    hit[v[inside], u[inside]] = True
    ray = _ray_length_factor(depth.shape, intrinsics)
    range_m = depth * ray
    valid = hit & (depth > 0) & (range_m >= range_min_m) & (range_m <= range_max_m)
    valid &= rng.random(depth.shape) >= dropout
    noisy_range = range_m + rng.normal(0.0, range_noise_m, depth.shape)
    return _finish(noisy_range / ray, valid, "lidar", metadata={"num_beams": num_beams})


def simulate_tof(depth_m, intrinsics, *, image=None, seed=0, range_max_m=5.0,
                 noise_base_m=0.0012, noise_quadratic_m=0.0019, dark_luma=0.08,
                 edge_relative_jump=0.1, dropout=0.01) -> SensorDepth:
    """A time-of-flight / structured-light RGB-D camera: noise sigma(z) = base + quadratic *
    (z - 0.4)^2 metres (Kinect-like), holes beyond ``range_max_m``, on dark surfaces (luma <
    ``dark_luma``: too little returned light), at depth edges (flying pixels) and at random."""
    depth = check_depth(depth_m)
    rng = np.random.default_rng(seed)
    valid = (depth > 0) & (depth <= range_max_m) & (rng.random(depth.shape) >= dropout)
    if image is not None:
        valid &= _luminance(image) >= dark_luma
    if edge_relative_jump is not None:
        padded = np.pad(depth, 1, mode="edge")
        neighbours = np.stack([padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]])
        jump = np.abs(neighbours - depth).max(0) / np.maximum(depth, 1e-6)
        valid &= jump <= edge_relative_jump
    sigma = noise_base_m + noise_quadratic_m * (depth - 0.4) ** 2
    return _finish(depth + rng.normal(0.0, 1.0, depth.shape) * sigma, valid, "tof")


def simulate_stereo(depth_m, intrinsics, *, image=None, seed=0, baseline_m=0.12,
                    disparity_noise_px=0.25, min_disparity_px=1.0, min_texture=0.01) -> SensorDepth:
    """A rectified stereo pair (this camera is the left one): disparity d = fx B / z plus
    Gaussian noise of ``disparity_noise_px``, so depth noise grows as sigma_z = z^2 sigma_d /
    (fx B). Holes where the disparity is below ``min_disparity_px`` (too far), where the
    matching pixel falls outside the right image (left border band) and, with ``image``, on
    untextured areas (local gradient < ``min_texture``)."""
    depth = check_depth(depth_m)
    rng = np.random.default_rng(seed)
    fx = float(intrinsics[0])
    with np.errstate(divide="ignore"):
        disparity = np.where(depth > 0, fx * baseline_m / np.maximum(depth, 1e-9), 0.0)
    noisy = disparity + rng.normal(0.0, disparity_noise_px, depth.shape)
    columns = np.arange(depth.shape[1])[None, :] + 0.5  # left edge of the pixel, then the match
    valid = (depth > 0) & (noisy >= min_disparity_px) & (columns - disparity >= 0)
    if image is not None:
        valid &= _texture_strength(image) >= min_texture
    with np.errstate(divide="ignore"):
        noisy_depth = fx * baseline_m / np.where(valid, noisy, 1.0)
    return _finish(noisy_depth, valid, "stereo", metadata={"baseline_m": baseline_m})


def simulate_sfm(depth_m, intrinsics, *, image=None, seed=0, keypoint_ratio=0.005,
                 relative_noise=0.01, outlier_ratio=0.05, min_texture=0.02,
                 unknown_scale=False, scale_range=(0.25, 4.0)) -> SensorDepth:
    """Structure-from-motion points: ``round(keypoint_ratio * H * W)`` keypoints (fewer if the
    image lacks texture) on textured pixels only (no points on untextured areas), relative
    depth noise, ``outlier_ratio`` of them with depth off by a factor in [0.5, 2], and with
    ``unknown_scale`` one global log-uniform scale (returned as ``scale_factor``)."""
    depth = check_depth(depth_m)
    rng = np.random.default_rng(seed)
    candidates = depth > 0
    if image is not None:
        candidates &= _texture_strength(image) >= min_texture
    flat = np.flatnonzero(candidates)
    count = min(int(round(keypoint_ratio * depth.size)), flat.size)
    chosen = rng.choice(flat, size=count, replace=False)
    values = depth.flat[chosen] * (1.0 + rng.normal(0.0, relative_noise, count))
    outliers = rng.random(count) < outlier_ratio
    values[outliers] *= np.exp(rng.uniform(np.log(0.5), np.log(2.0), int(outliers.sum())))
    scale = float(np.exp(rng.uniform(*np.log(scale_range)))) if unknown_scale else 1.0
    out = np.zeros_like(depth)
    out.flat[chosen] = values * scale
    return _finish(out, out > 0, "sfm", scale_factor=scale,
                   metadata={"num_outliers": int(outliers.sum())})


def simulate_mvs(depth_m, intrinsics, *, image=None, seed=0, relative_noise=0.01,
                 outlier_ratio=0.01, min_texture=0.02, hole_ratio=0.1) -> SensorDepth:
    """Multi-view stereo: dense depth with relative noise, holes on untextured areas (with
    ``image``) and in random blobs covering about ``hole_ratio`` of the image, a few outliers."""
    from scipy.ndimage import gaussian_filter

    depth = check_depth(depth_m)
    rng = np.random.default_rng(seed)
    valid = depth > 0
    if image is not None:
        valid &= _texture_strength(image) >= min_texture
    field = gaussian_filter(rng.random(depth.shape), sigma=max(depth.shape) / 20)
    valid &= field > np.quantile(field, hole_ratio)
    noisy = depth * (1.0 + rng.normal(0.0, relative_noise, depth.shape))
    outliers = rng.random(depth.shape) < outlier_ratio
    noisy[outliers] *= np.exp(rng.uniform(np.log(0.5), np.log(2.0), int(outliers.sum())))
    return _finish(noisy, valid, "mvs")


def simulate_lowres(depth_m, intrinsics, *, image=None, seed=0, factor=8,
                    noise_m=0.01) -> SensorDepth:
    """A low-resolution depth sensor registered to the camera: the mean of each ``factor`` x
    ``factor`` block (invalid if under half of it is valid), Gaussian noise, then nearest
    upsampling back to (H, W). ``metadata["lowres_depth_m"]`` holds the (H/f, W/f) map."""
    depth = check_depth(depth_m)
    rng = np.random.default_rng(seed)
    height, width = depth.shape
    bh, bw = -(-height // factor), -(-width // factor)
    padded = np.zeros((bh * factor, bw * factor), np.float32)
    padded[:height, :width] = depth
    blocks = padded.reshape(bh, factor, bw, factor)
    count = (blocks > 0).sum(axis=(1, 3))
    low = np.where(count > 0, blocks.sum(axis=(1, 3)) / np.maximum(count, 1), 0.0)
    low_valid = count >= factor * factor / 2
    low = np.where(low_valid, low + rng.normal(0.0, noise_m, low.shape), 0.0).astype(np.float32)
    up = np.repeat(np.repeat(low, factor, 0), factor, 1)[:height, :width]
    return _finish(up, up > 0, "lowres", metadata={"lowres_depth_m": low, "factor": factor})


NOISE_SOURCES = {
    "lidar": simulate_lidar, "tof": simulate_tof, "stereo": simulate_stereo,
    "sfm": simulate_sfm, "mvs": simulate_mvs, "lowres": simulate_lowres,
}


def simulate_source(name: str, depth_m, intrinsics, *, image=None, seed=0, **parameters) -> SensorDepth:
    """Run the simulator registered as ``name`` (see ``NOISE_SOURCES``)."""
    if name not in NOISE_SOURCES:
        raise MaVlmInputError(f"unknown depth source {name!r}; choose from {', '.join(NOISE_SOURCES)}.")
    return NOISE_SOURCES[name](depth_m, intrinsics, image=image, seed=seed, **parameters)


def apply_source(record: dict, name: str, seed: int = 0, **parameters) -> dict:
    """A copy of an ``RGBDRecord`` whose depth went through source ``name``; ``source`` is set to
    ``name`` (the image, instances and pose are unchanged)."""
    result = simulate_source(name, record["depth"], record["intrinsics"], image=record["image"],
                             seed=seed, **parameters)
    return {**record, "depth": result.depth_m, "source": name}
