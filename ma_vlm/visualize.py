"""Pictures of depth people look at: colour maps with a scale bar, and coloured point clouds."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ma_vlm.atomic_io import atomic_path


def save_npy(array: np.ndarray, path: str | Path) -> None:
    """np.save, written atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, array)


def save_depth_colormap(depth_m: np.ndarray, path: str | Path, title: str | None = None) -> None:
    """PNG of a (H, W) depth map in metres with a colour bar labelled in metres.

    Colours follow inverse depth (near = bright) over the 2nd-98th percentile, which shows
    indoor and outdoor scenes alike; invalid (<= 0 or non-finite) pixels are grey.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    valid = np.isfinite(depth_m) & (depth_m > 0)
    near, far = (np.percentile(depth_m[valid], [2, 98]) if valid.any() else (1.0, 2.0))
    far = max(far, near * 1.001)
    inverse = np.where(valid, 1.0 / np.where(valid, depth_m, 1.0), np.nan)
    height, width = depth_m.shape
    figure, axis = plt.subplots(figsize=(6.4 * width / max(height, width) + 1.2, 6.4 * height / max(height, width)))
    cmap = plt.get_cmap("turbo")
    cmap = cmap.with_extremes(bad="0.5")
    image = axis.imshow(inverse, cmap=cmap, norm=Normalize(1 / far, 1 / near))
    axis.set_axis_off()
    if title:
        axis.set_title(title)
    bar = figure.colorbar(image, ax=axis, fraction=0.046, pad=0.02)
    ticks = np.linspace(1 / far, 1 / near, 6)
    bar.set_ticks(ticks)
    bar.set_ticklabels([f"{1 / t:.2f}" for t in ticks])
    bar.set_label("depth (m)")
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
    plt.close(figure)


def save_point_cloud_ply(points_m: np.ndarray, colors: np.ndarray, path: str | Path) -> int:
    """Binary PLY of (N, 3) float points (metres) with (N, 3) uint8 RGB colours.

    Non-finite points are skipped. Returns the number of points written.
    """
    points_m = points_m.reshape(-1, 3)
    colors = colors.reshape(-1, 3).astype(np.uint8)
    keep = np.isfinite(points_m).all(axis=1)
    points_m, colors = points_m[keep], colors[keep]
    vertex = np.empty(len(points_m), dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"),
                                            ("red", "u1"), ("green", "u1"), ("blue", "u1")])
    vertex["x"], vertex["y"], vertex["z"] = points_m.T
    vertex["red"], vertex["green"], vertex["blue"] = colors.T
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        f"element vertex {len(vertex)}\n"
        "property float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n"
    )
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(header.encode("ascii"))
        handle.write(vertex.tobytes())
    return len(vertex)


def read_point_cloud_ply(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read back what `save_point_cloud_ply` wrote: ((N, 3) float32 metres, (N, 3) uint8)."""
    data = Path(path).read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    count = int(data[:end].decode().split("element vertex ")[1].split("\n")[0])
    vertex = np.frombuffer(data[end:], count=count, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"),
                                                            ("red", "u1"), ("green", "u1"), ("blue", "u1")])
    points = np.stack([vertex["x"], vertex["y"], vertex["z"]], axis=1)
    colors = np.stack([vertex["red"], vertex["green"], vertex["blue"]], axis=1)
    return points, colors
