"""Multi-view fusion of per-view metric depth into one coloured point cloud, and a check that the
views agree on scale.

Poses are camera-to-world 4 x 4 matrices with OpenCV camera axes (x right, y down, z forward),
metres, like the data engine's `camera_to_world`. Scale consistency: every view's points are
projected into every other view; where both see the same surface, the median of depth_i /
depth_j->i is 1 for views that agree on scale, and its spread over pairs is the figure reported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ma_vlm.errors import MaVlmInputError


@dataclass
class View:
    """name; rgb (H, W, 3) uint8; depth_m (H, W) metres, 0 = invalid; intrinsics [fx, fy, cx, cy]."""

    name: str
    rgb: np.ndarray
    depth_m: np.ndarray
    intrinsics: list[float]

    def points_camera(self) -> tuple[np.ndarray, np.ndarray]:
        """((N, 3) camera-frame points in metres of the valid pixels, (N, 3) uint8 colours)."""
        from ma_vlm.geometry import Intrinsics, backproject

        valid = np.isfinite(self.depth_m) & (self.depth_m > 0)
        points = backproject(np.where(valid, self.depth_m, 0), Intrinsics.from_cam_in(self.intrinsics))
        return points[valid], self.rgb[valid]


def read_poses(path: str | Path, names: list[str]) -> list[np.ndarray]:
    """Camera-to-world poses for `names` (image stems) from a JSON file: either {stem: 4x4} or a
    list of 4x4 in image order (row-major nested lists, OpenCV camera axes, metres)."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise MaVlmInputError(f"--poses {path}: not a readable JSON file ({error})") from None
    payload = payload.get("camera_to_world", payload) if isinstance(payload, dict) else payload
    if isinstance(payload, dict):
        missing = [n for n in names if n not in payload]
        if missing:
            raise MaVlmInputError(f"--poses {path} has no pose for {missing}; key poses by image stem")
        poses = [payload[n] for n in names]
    elif isinstance(payload, list) and len(payload) == len(names):
        poses = payload
    else:
        raise MaVlmInputError(f"--poses {path}: give {{stem: 4x4}} or a list of {len(names)} 4x4 matrices")
    try:
        matrices = [np.asarray(p, np.float64).reshape(4, 4) for p in poses]
    except (TypeError, ValueError):
        raise MaVlmInputError(f"--poses {path}: every pose must be a 4x4 matrix of numbers (nested lists)") from None
    for name, matrix in zip(names, matrices):
        rotation = matrix[:3, :3]
        if not np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-4) or not np.allclose(matrix[3], [0, 0, 0, 1]):
            raise MaVlmInputError(f"--poses: the pose of {name} is not a rigid camera-to-world matrix")
    return matrices


def transform(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    return points @ pose[:3, :3].T + pose[:3, 3]


def voxel_downsample(points: np.ndarray, colors: np.ndarray, voxel_m: float):
    """Mean point and colour per voxel of side `voxel_m` metres (0: keep all)."""
    if voxel_m <= 0 or len(points) == 0:
        return points, colors
    keys = np.floor(points / voxel_m).astype(np.int64)
    _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    mean_points = np.zeros((len(counts), 3))
    mean_colors = np.zeros((len(counts), 3))
    np.add.at(mean_points, inverse, points)
    np.add.at(mean_colors, inverse, colors.astype(np.float64))
    return (mean_points / counts[:, None]).astype(np.float32), np.round(mean_colors / counts[:, None]).astype(np.uint8)


def pair_depth_ratio(view_i: View, pose_i, view_j: View, pose_j, min_overlap: int = 50):
    """(median depth_i / depth of j's points seen from i, overlapping pixels) or None."""
    points_j, _ = view_j.points_camera()
    in_i = transform(transform(points_j, pose_j), np.linalg.inv(pose_i))
    fx, fy, cx, cy = view_i.intrinsics
    front = in_i[:, 2] > 1e-6
    in_i = in_i[front]
    u = np.round(in_i[:, 0] / in_i[:, 2] * fx + cx).astype(np.int64)
    v = np.round(in_i[:, 1] / in_i[:, 2] * fy + cy).astype(np.int64)
    height, width = view_i.depth_m.shape
    inside = (u >= 0) & (u < width) & (v >= 0) & (v < height)
    u, v, z = u[inside], v[inside], in_i[inside, 2]
    depth_i = view_i.depth_m[v, u]
    # same surface only: occluded points (j sees behind what i sees) are not a scale error
    seen = (depth_i > 0) & (np.abs(depth_i / z - 1) < 0.5)
    if seen.sum() < min_overlap:
        return None
    return float(np.median(depth_i[seen] / z[seen])), int(seen.sum())


def scale_consistency(views: list[View], poses: list[np.ndarray]) -> dict:
    """Pairwise median depth ratios (1.0 = same scale) and their worst deviation from 1."""
    pairs = []
    for i in range(len(views)):
        for j in range(len(views)):
            if i != j and (result := pair_depth_ratio(views[i], poses[i], views[j], poses[j])) is not None:
                pairs.append({"view": views[i].name, "other": views[j].name, "median_depth_ratio": result[0],
                              "overlap_pixels": result[1]})
    ratios = np.array([p["median_depth_ratio"] for p in pairs])
    return {
        "pairs": pairs,
        "num_pairs": len(pairs),
        "max_abs_log_ratio": float(np.abs(np.log(ratios)).max()) if len(ratios) else None,
        "median_abs_log_ratio": float(np.median(np.abs(np.log(ratios)))) if len(ratios) else None,
        "median_depth_ratio_range": [float(ratios.min()), float(ratios.max())] if len(ratios) else None,
    }


def fuse_views(views: list[View], poses: list[np.ndarray], voxel_m: float = 0.0):
    """((N, 3) world points in metres, (N, 3) uint8 colours) of all views, voxel-averaged."""
    clouds = [view.points_camera() for view in views]
    points = np.concatenate([transform(p, pose) for (p, _), pose in zip(clouds, poses)])
    colors = np.concatenate([c for _, c in clouds])
    return voxel_downsample(points, colors, voxel_m)


MAX_TSDF_RESOLUTION = 256


def tsdf_mesh(views: list[View], poses: list[np.ndarray], voxel_m: float, path: Path):
    """A TSDF mesh (Open3D, optional extra `[reconstruct]`) written as .ply: its triangle count, or
    the reason Open3D could not be imported (a str; its wheel also needs the system's libusb-1.0)."""
    try:
        import open3d as o3d
    except ImportError as error:
        return f"open3d could not be imported ({error}); install it with pip install 'ma-vlm[reconstruct]'"
    # A uniform volume around the posed views' points: Open3D 0.20's ScalableTSDFVolume integrated
    # nothing here (0 triangles even for one fronto-parallel plane), its UniformTSDFVolume works.
    # The grid is capped at MAX_TSDF_RESOLUTION^3 voxels (memory), so the voxel may grow past voxel_m.
    corners = []
    for view, pose in zip(views, poses):
        points, _ = view.points_camera()
        corners.append(points @ pose[:3, :3].T + pose[:3, 3])
    world = np.concatenate(corners)
    low, high = world.min(axis=0), world.max(axis=0)
    length = float((high - low).max()) + 8 * voxel_m
    resolution = int(min(MAX_TSDF_RESOLUTION, np.ceil(length / voxel_m)))
    voxel = length / resolution
    volume = o3d.pipelines.integration.UniformTSDFVolume(
        length=length, resolution=resolution, sdf_trunc=4 * voxel,
        color_type=o3d.pipelines.integration.TSDFVolumeColorType.RGB8,
        origin=(low - 4 * voxel_m).reshape(3, 1).astype(np.float64))
    for view, pose in zip(views, poses):
        height, width = view.depth_m.shape
        fx, fy, cx, cy = view.intrinsics
        rgbd = o3d.geometry.RGBDImage.create_from_color_and_depth(
            o3d.geometry.Image(np.ascontiguousarray(view.rgb)), o3d.geometry.Image(view.depth_m.astype(np.float32)),
            depth_scale=1.0, depth_trunc=float(view.depth_m.max()) + 1.0, convert_rgb_to_intensity=False)
        camera = o3d.camera.PinholeCameraIntrinsic(width, height, fx, fy, cx, cy)
        volume.integrate(rgbd, camera, np.linalg.inv(pose))
    mesh = volume.extract_triangle_mesh()
    o3d.io.write_triangle_mesh(str(path), mesh)
    return len(mesh.triangles)
