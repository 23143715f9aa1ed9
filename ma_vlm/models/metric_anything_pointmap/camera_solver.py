"""Camera intrinsics and depth shift from a point map, by least squares (as MoGe recovers them).

A point-map network predicts camera-frame points (x, y, z) up to a scale and a shift of z. The
pixel (u, v) of a point obeys the pinhole model u = f x / (z + s) + cx, v = f y / (z + s) + cy.
For a fixed shift s the focal length (and, when asked, the principal point) solves a *linear*
least-squares problem, so the solver minimises the projection residual over s alone (variable
projection) and reads f (cx, cy) from the inner solve. Pixels are square (fx = fy); pixel centres
sit at integer (u, v), OpenCV's convention, so a centred principal point is ((W-1)/2, (H-1)/2).

Conditioning (`conditioning_study()`, slanted planes 160 x 120 px, map shifted by 1 m, 1% of the
depth as Gaussian noise on every coordinate, median of 5 seeds; relative focal error):

    far/near depth   FoV 10 deg   30 deg   60 deg   90 deg   120 deg   corr(f, s)
    1.0 (flat)       ~1e6 (singular: any f fits with its own s)           1.0000
    1.25             2.2%         1.7%     1.8%     1.7%     1.7%      0.9974
    2.0              4.8%         0.25%    0.13%    0.09%    0.14%     0.975

  * The f and s Jacobian columns are u/f and -u/(z+s): parallel unless depth varies across the
    image, so with little depth spread (fronto-parallel walls, distant scenes) f and s trade
    off; at zero spread only f / (z + s) is determined. `focal_shift_correlation` reports it.
  * A narrow field of view makes x/z small (tan(5 deg) = 0.09 at 10 deg), so the same point
    noise is a larger error in the normalised coordinates: 4.8% focal error at 10 deg against
    0.1-0.25% from 30 to 120 deg with a 2:1 depth spread.
  * Noise-free maps are fitted exactly at every FoV, aspect ratio and principal point (tests).
A free principal point (principal_point=None) adds two unknowns that also trade off with f;
MoGe assumes the centre, and so does the point-map model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ma_vlm.errors import MaVlmInputError


@dataclass(frozen=True)
class FocalShiftSolution:
    """focal_length_px: f in pixels; shift: added to z (point-map units); principal_point_px:
    (cx, cy); rms_residual_px: projection residual in pixels; focal_shift_correlation: |corr|
    of the f and s estimates from the Gauss-Newton covariance (1 = they trade off completely);
    num_points: points used."""

    focal_length_px: float
    shift: float
    principal_point_px: tuple[float, float]
    rms_residual_px: float
    focal_shift_correlation: float
    num_points: int


def _inner_solve(uv_px, xy, z, shift, principal_point, focal_length_px):
    """Closed-form f (and cx, cy) for one shift; returns (params, residual (2N,))."""
    ab = xy / (z + shift)[:, None]  # (N, 2) normalised image coordinates
    if focal_length_px is not None and principal_point is not None:
        params = (focal_length_px, *principal_point)
    elif principal_point is not None:
        centred = uv_px - np.asarray(principal_point)
        params = ((ab * centred).sum() / max(np.square(ab).sum(), 1e-300), *principal_point)
    else:  # f, cx, cy all linear: [a 1 0; b 0 1] [f cx cy]^T = [u; v]
        rows = np.zeros((2 * len(z), 3))
        rows[0::2, 0], rows[1::2, 0] = ab[:, 0], ab[:, 1]
        rows[0::2, 1], rows[1::2, 2] = 1.0, 1.0
        params = tuple(np.linalg.lstsq(rows, uv_px.reshape(-1), rcond=None)[0])
        if focal_length_px is not None:
            centred = uv_px - focal_length_px * ab
            params = (focal_length_px, *centred.mean(0))
    f, cx, cy = params
    residual = (f * ab + np.array([cx, cy]) - uv_px).reshape(-1)
    return (float(f), float(cx), float(cy)), residual


SOLVERS = ("exact", "published")


def solve_focal_shift(uv_px, points, principal_point=None, focal_length_px=None, solver: str = "exact",
                      residual_scale_px: float = 1.0) -> FocalShiftSolution:
    """Least-squares focal length and z-shift from point/pixel pairs.

    uv_px: (N, 2) pixel coordinates (integer = pixel centre); points: (N, 3) affine point map at
    those pixels (any unit; z-shift unknown). principal_point: (cx, cy) in pixels, or None to
    estimate it too. focal_length_px: a known focal length (then only the shift, and the
    principal point if None, are solved: the published code's known-FoV path).
    solver: "exact" fits to convergence (bounded so that z + s > 0). "published" repeats the
    official code's fit: Levenberg-Marquardt from s = 0 with ftol 1e-3 on residuals measured on
    the normalised view plane (pixels / `residual_scale_px`, its half-diagonal in pixels), the
    shift rounded to float32; it stops short of the minimiser (~1e-3 relative in f).
    """
    from scipy.optimize import least_squares

    if solver not in SOLVERS:
        raise MaVlmInputError(f"camera solver {solver!r} not supported; use one of {SOLVERS}")

    uv_px = np.asarray(uv_px, np.float64).reshape(-1, 2)
    points = np.asarray(points, np.float64).reshape(-1, 3)
    if len(points) != len(uv_px):
        raise MaVlmInputError(f"{len(points)} points for {len(uv_px)} pixels; give one point per pixel")
    finite = np.isfinite(points).all(1)
    uv_px, points = uv_px[finite], points[finite]
    if len(points) < 3:
        raise MaVlmInputError(f"only {len(points)} valid points; intrinsics need at least 3 (check the mask)")
    xy, z = points[:, :2], points[:, 2]
    depth_range = max(float(np.ptp(z)), 1e-12)
    scale = max(float(np.abs(z).mean()), depth_range)  # s is solved in units of this, so x0 = 0 is well scaled

    def residual(s):
        return _inner_solve(uv_px, xy, z, s[0] * scale, principal_point, focal_length_px)[1]

    if solver == "published":
        if principal_point is None:
            raise MaVlmInputError("the published camera solver assumes the centred principal point")
        fit = least_squares(lambda s: _inner_solve(uv_px, xy, z, s[0], principal_point, focal_length_px)[1]
                            / residual_scale_px, x0=[0.0], method="lm", ftol=1e-3)
        shift = float(np.float32(fit.x[0]))
    else:
        # z + s must stay positive on every point: the pinhole model has no points behind the camera.
        lower = (-float(z.min()) + 1e-6 * depth_range) / scale
        start = max(0.0, lower + 1e-3)
        fit = least_squares(residual, x0=[start], bounds=([lower], [np.inf]), method="trf",
                            ftol=1e-12, xtol=1e-12, gtol=1e-12, max_nfev=200)
        shift = float(fit.x[0]) * scale
    (f, cx, cy), final = _inner_solve(uv_px, xy, z, shift, principal_point, focal_length_px)
    return FocalShiftSolution(
        focal_length_px=f, shift=shift, principal_point_px=(cx, cy),
        rms_residual_px=float(np.sqrt(np.mean(np.square(final)))),
        focal_shift_correlation=_focal_shift_correlation(xy, z + shift, f),
        num_points=int(len(z)),
    )


def _focal_shift_correlation(xy, z_shifted, focal_length_px) -> float:
    """|corr(f, s)| from (J^T J)^-1 of u = f x / (z + s) (+ c) at the solution."""
    ab = xy / z_shifted[:, None]
    d_focal = ab.reshape(-1)
    d_shift = (-focal_length_px * ab / z_shifted[:, None]).reshape(-1)
    jacobian = np.stack([d_focal, d_shift], 1)
    normal = jacobian.T @ jacobian
    try:
        covariance = np.linalg.inv(normal)
    except np.linalg.LinAlgError:
        return 1.0
    return float(min(1.0, abs(covariance[0, 1]) / np.sqrt(covariance[0, 0] * covariance[1, 1])))


def pixel_grid(height: int, width: int) -> np.ndarray:
    """(H, W, 2) pixel-centre coordinates (u = column, v = row), float64."""
    u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    return np.stack([u, v], -1)


def nearest_sample_indices(size: int, samples: int) -> np.ndarray:
    """The rows (or columns) torch's `interpolate(mode="nearest")` picks when resizing `size` to
    `samples` (floor(k * size / samples)), so a subsampled fit sees the published code's pixels."""
    return np.minimum((np.arange(samples) * (size / samples)).astype(np.int64), size - 1)


def recover_intrinsics(points, mask=None, principal_point="centre", focal_length_px=None,
                       sample_grid: tuple[int, int] | None = (64, 64), solver: str = "exact") -> FocalShiftSolution:
    """Intrinsics and shift of one (H, W, 3) point map.

    mask: (H, W) bool, True = use. principal_point: "centre" (MoGe's assumption), None to
    estimate, or (cx, cy). sample_grid: fit on this (rows, cols) nearest subsample, as MoGe does
    (64 x 64); None uses every pixel. solver: "exact" or "published" (`solve_focal_shift`).
    """
    points = np.asarray(points)
    if points.ndim != 3 or points.shape[-1] != 3:
        raise MaVlmInputError(f"point map must be (H, W, 3), got {points.shape}")
    height, width = points.shape[:2]
    grid = pixel_grid(height, width)
    keep = np.ones((height, width), bool) if mask is None else np.asarray(mask, bool)
    if sample_grid is not None:
        rows, cols = nearest_sample_indices(height, sample_grid[0]), nearest_sample_indices(width, sample_grid[1])
        grid, points, keep = (a[rows][:, cols] for a in (grid, points, keep))
    if isinstance(principal_point, str):
        if principal_point != "centre":
            raise MaVlmInputError(f"principal_point must be 'centre', None or (cx, cy), got {principal_point!r}")
        principal_point = ((width - 1) / 2.0, (height - 1) / 2.0)
    return solve_focal_shift(grid[keep], points[keep], principal_point, focal_length_px, solver,
                             residual_scale_px=float(np.hypot(width, height)) / 2)


def fov_deg(focal_length_px: float, side_px: float) -> float:
    """Field of view in degrees across an image side of `side_px` pixels."""
    return float(np.degrees(2 * np.arctan(side_px / (2 * focal_length_px))))


def synthetic_point_map(width: int, height: int, intrinsics, near_m: float = 2.0, far_m: float = 4.0,
                        noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """(H, W, 3) camera-frame points of a slanted plane whose depth runs from `near_m` (bottom
    row) to `far_m` (top row), seen by pinhole `intrinsics` [fx, fy, cx, cy]; `noise` adds
    Gaussian noise of that fraction of the depth to every coordinate (a predicted map's error)."""
    fx, fy, cx, cy = intrinsics
    grid = pixel_grid(height, width)
    rows = grid[..., 1] / max(height - 1, 1)
    depth = far_m + (near_m - far_m) * rows
    points = np.stack([(grid[..., 0] - cx) / fx * depth, (grid[..., 1] - cy) / fy * depth, depth], -1)
    if noise:
        points = points + noise * depth[..., None] * np.random.default_rng(seed).standard_normal(points.shape)
    return points


def conditioning_study(fov_deg_values=(10, 30, 60, 90, 120), depth_ratios=(1.0, 1.25, 2.0), noise: float = 0.01,
                       seeds: int = 5, width: int = 160, height: int = 120) -> list[dict]:
    """Median relative focal error of `recover_intrinsics` (centred principal point, unknown shift,
    map shifted by 1 m) on noisy slanted planes: one row per (FoV, far/near depth ratio)."""
    rows = []
    for fov in fov_deg_values:
        focal = width / 2 / np.tan(np.radians(fov) / 2)
        camera = (focal, focal, (width - 1) / 2, (height - 1) / 2)
        for ratio in depth_ratios:
            errors, correlations = [], []
            for seed in range(seeds):
                points = synthetic_point_map(width, height, camera, 2.0, 2.0 * ratio, noise, seed)
                points[..., 2] -= 1.0  # the network's unknown shift
                solution = recover_intrinsics(points)
                errors.append(abs(solution.focal_length_px / focal - 1))
                correlations.append(solution.focal_shift_correlation)
            rows.append({"fov_deg": fov, "depth_ratio": ratio, "median_focal_error": float(np.median(errors)),
                         "focal_shift_correlation": float(np.median(correlations))})
    return rows
