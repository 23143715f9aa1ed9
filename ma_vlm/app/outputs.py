"""What a request writes: its own folder, the 3D view's .glb and the depth table.

Every request writes into a fresh folder of its own under the page's scratch folder (never
beside an upload, never over anything else); Gradio copies what it returns into its cache.
Folders older than `KEEP_SECONDS` are removed when a later request starts.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

KEEP_SECONDS = 3600.0
MAX_VIEW_POINTS = 200_000  # the 3D view's cloud is subsampled to this; the .ply keeps every point


class RequestFolders:
    """`new()` -> a fresh empty folder for one request, under `root` (a new temporary folder by default)."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="ma-vlm-app-"))
        self.root.mkdir(parents=True, exist_ok=True)

    def new(self) -> Path:
        now = time.time()
        for old in self.root.iterdir():
            if old.is_dir() and now - old.stat().st_mtime > KEEP_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
        return Path(tempfile.mkdtemp(dir=self.root))


def write_point_cloud_glb(points_m: np.ndarray, colors: np.ndarray, path: Path) -> int:
    """A binary glTF point cloud for the page's 3D view: (N, 3) metres in the OpenCV camera frame
    (x right, y down, z forward) with (N, 3) uint8 colours. glTF is y up and looks down -z, so the
    points are written as (x, -y, -z): the camera sits at the origin looking along -z, metres
    kept. Non-finite points are dropped; over `MAX_VIEW_POINTS` an even subsample is kept.
    Returns the number of points written."""
    import trimesh

    points_m = points_m.reshape(-1, 3)
    colors = colors.reshape(-1, 3).astype(np.uint8)
    keep = np.isfinite(points_m).all(axis=1)
    points_m, colors = points_m[keep], colors[keep]
    if len(points_m) > MAX_VIEW_POINTS:
        chosen = np.linspace(0, len(points_m) - 1, MAX_VIEW_POINTS).round().astype(int)
        points_m, colors = points_m[chosen], colors[chosen]
    gltf_points = points_m * np.array([1.0, -1.0, -1.0], dtype=np.float32)
    rgba = np.concatenate([colors, np.full((len(colors), 1), 255, np.uint8)], axis=1)
    cloud = trimesh.PointCloud(gltf_points, colors=rgba)
    path.write_bytes(trimesh.Scene(cloud).export(file_type="glb"))
    return len(gltf_points)


def depth_table(depth_m: np.ndarray, valid: np.ndarray | None = None) -> list[list]:
    """[[statistic, metres]] rows (min, median, max, valid pixels) of a (H, W) metres map."""
    valid = np.isfinite(depth_m) & (depth_m > 0) if valid is None else valid
    values = depth_m[valid]
    if values.size == 0:
        return [["valid pixels", "0"]]
    return [["min (m)", f"{values.min():.3f}"], ["median (m)", f"{np.median(values):.3f}"],
            ["max (m)", f"{values.max():.3f}"], ["valid pixels", f"{values.size:,} of {depth_m.size:,}"]]
