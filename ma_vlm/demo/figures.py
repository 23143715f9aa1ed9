"""The report's pictures: loss curves, depth and error colour maps, noisy-source views, a point
cloud preview and an episode GIF. Each function writes one PNG/GIF atomically and returns its path,
or None when its inputs are not in the run folder.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ma_vlm.atomic_io import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path) -> Path:
    plt = _pyplot()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=90, bbox_inches="tight", format="png")
    plt.close(figure)
    return path


def _read_log(path: Path) -> tuple[list[int], list[float]]:
    with open(path, newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("loss")]
    return [int(row["step"]) for row in rows], [float(row["loss"]) for row in rows]


def loss_curves(logs: dict[str, Path], path: Path, title: str) -> Path | None:
    """One panel per run: loss against step from `ma-vlm pretrain`-style log.csv files (step, loss)."""
    logs = {name: log for name, log in logs.items() if log.is_file()}
    if not logs:
        return None
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(logs), figsize=(4.2 * len(logs), 3.0), squeeze=False)
    for axis, (name, log) in zip(axes[0], logs.items()):
        steps, losses = _read_log(log)
        axis.plot(steps, losses, marker="." if len(steps) < 20 else None)
        axis.set_title(name)
        axis.set_xlabel("step")
        axis.set_ylabel("loss")
        axis.grid(alpha=0.3)
    figure.suptitle(title)
    return _save(figure, path)


def series(values: list[float], path: Path, xlabel: str, ylabel: str, title: str) -> Path | None:
    """A plain line plot of values in logged order (e.g. the losses a console log printed)."""
    if not values:
        return None
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(4.5, 3.0))
    axis.plot(range(1, len(values) + 1), values, marker=".")
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    return _save(figure, path)


def _depth_panel(axis, depth_m: np.ndarray, title: str, near_far: tuple[float, float]):
    """Inverse-depth colours (near = bright) on a shared range so panels compare; grey = invalid."""
    plt = _pyplot()
    from matplotlib.colors import Normalize

    valid = np.isfinite(depth_m) & (depth_m > 0)
    inverse = np.where(valid, 1.0 / np.where(valid, depth_m, 1.0), np.nan)
    near, far = near_far
    image = axis.imshow(inverse, cmap=plt.get_cmap("turbo").with_extremes(bad="0.5"), norm=Normalize(1 / far, 1 / near))
    axis.set_title(title, fontsize=9)
    axis.set_axis_off()
    return image


def depth_and_error(rgb: np.ndarray, truth_m: np.ndarray, predictions: dict[str, np.ndarray], path: Path) -> Path:
    """Row 1: image, true depth, each prediction (same colour range, metres). Row 2: each
    prediction's absolute relative error |d - d*| / d* on valid pixels (0 to 0.5)."""
    plt = _pyplot()
    valid = np.isfinite(truth_m) & (truth_m > 0)
    near, far = np.percentile(truth_m[valid], [2, 98]) if valid.any() else (1.0, 2.0)
    far = max(far, near * 1.001)
    columns = 2 + len(predictions)
    figure, axes = plt.subplots(2, columns, figsize=(2.6 * columns, 4.8))
    axes[0, 0].imshow(rgb)
    axes[0, 0].set_title("image", fontsize=9)
    depth_image = _depth_panel(axes[0, 1], truth_m, "true depth", (near, far))
    error_image = None
    for column, (name, predicted) in enumerate(predictions.items(), start=2):
        _depth_panel(axes[0, column], predicted, name, (near, far))
        error = np.where(valid, np.abs(predicted - truth_m) / np.where(valid, truth_m, 1.0), np.nan)
        error_image = axes[1, column].imshow(error, cmap=plt.get_cmap("magma").with_extremes(bad="0.5"), vmin=0, vmax=0.5)
        axes[1, column].set_title(f"error, AbsRel {np.nanmean(error):.3f}", fontsize=9)
    for axis in axes.ravel():
        axis.set_axis_off()
    ticks = np.linspace(1 / far, 1 / near, 5)
    bar = figure.colorbar(depth_image, ax=list(axes[0]), fraction=0.02, pad=0.01, ticks=ticks)
    bar.set_ticklabels([f"{1 / t:.1f}" for t in ticks])
    bar.set_label("depth (m)")
    if error_image is not None:
        figure.colorbar(error_image, ax=list(axes[1]), fraction=0.02, pad=0.01).set_label("|d - d*| / d*")
    return _save(figure, path)


def noisy_sources(rgb: np.ndarray, views: dict[str, np.ndarray], path: Path) -> Path:
    """The same scene as each noisy depth source sees it (metres, shared colour range)."""
    plt = _pyplot()
    clean = views.get("render", next(iter(views.values())))
    valid = np.isfinite(clean) & (clean > 0)
    near, far = np.percentile(clean[valid], [2, 98]) if valid.any() else (1.0, 2.0)
    figure, axes = plt.subplots(1, 1 + len(views), figsize=(2.4 * (1 + len(views)), 2.4))
    axes[0].imshow(rgb)
    axes[0].set_title("image", fontsize=9)
    axes[0].set_axis_off()
    for axis, (name, depth) in zip(axes[1:], views.items()):
        coverage = float(np.mean(np.isfinite(depth) & (depth > 0)))
        _depth_panel(axis, depth, f"{name} ({coverage:.0%} valid)", (near, max(far, near * 1.001)))
    return _save(figure, path)


def image_and_depth(pairs: list[tuple[str, Path, Path]], path: Path) -> Path | None:
    """Rows of (input photo, the colour map `ma-vlm depth` wrote for it)."""
    from PIL import Image

    pairs = [(name, image, depth) for name, image, depth in pairs if image.is_file() and depth.is_file()]
    if not pairs:
        return None
    plt = _pyplot()
    figure, axes = plt.subplots(len(pairs), 2, figsize=(10, 2.8 * len(pairs)), squeeze=False,
                                gridspec_kw={"width_ratios": [1, 1.2]})
    for row, (name, image, depth) in zip(axes, pairs):
        row[0].imshow(Image.open(image).convert("RGB"))
        row[0].set_title(name, fontsize=9)
        row[1].imshow(Image.open(depth).convert("RGB"))
        for axis in row:
            axis.set_axis_off()
    return _save(figure, path)


def point_cloud_preview(ply: Path, path: Path, max_points: int = 6000) -> Path | None:
    """A 3D scatter of a coloured .ply (metres, camera frame: x right, y down, z forward), seen
    from above and behind the camera, subsampled to `max_points`."""
    if not ply.is_file():
        return None
    from ma_vlm.visualize import read_point_cloud_ply

    points, colors = read_point_cloud_ply(ply)
    if len(points) == 0:
        return None
    keep = np.random.default_rng(0).permutation(len(points))[:max_points]
    points, colors = points[keep], colors[keep]
    plt = _pyplot()
    figure = plt.figure(figsize=(5.5, 4.5))
    axis = figure.add_subplot(projection="3d")
    # Plot (x, z, -y) so "up" in the picture is up in the scene.
    axis.scatter(points[:, 0], points[:, 2], -points[:, 1], c=colors / 255.0, s=2, depthshade=False)
    axis.set_xlabel("x (m)")
    axis.set_ylabel("z forward (m)")
    axis.set_zlabel("-y up (m)")
    axis.view_init(elev=20, azim=-70)
    axis.set_title(f"{ply.name}: {len(keep)} of the points")
    return _save(figure, path)


def bar_chart(groups: dict[str, dict[str, float]], path: Path, ylabel: str, title: str) -> Path | None:
    """Grouped bars: groups[series][category] (e.g. accuracy per question type per model)."""
    if not groups:
        return None
    plt = _pyplot()
    categories = sorted({category for series in groups.values() for category in series})
    width = 0.8 / len(groups)
    figure, axis = plt.subplots(figsize=(max(5.0, 0.9 * len(categories) + 2), 3.2))
    for index, (name, values) in enumerate(groups.items()):
        positions = np.arange(len(categories)) + index * width
        axis.bar(positions, [values.get(category, np.nan) for category in categories], width, label=name)
    axis.set_xticks(np.arange(len(categories)) + 0.4 - width / 2, categories, rotation=30, ha="right", fontsize=8)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.legend(fontsize=8)
    return _save(figure, path)


def episode_gif(video: Path, path: Path, max_frames: int = 60, width_px: int = 240) -> Path | None:
    """A short GIF from an episode video (.mp4 via imageio) or an existing .gif, shrunk to width_px."""
    if not video.is_file():
        return None
    import imageio.v3 as iio
    from PIL import Image

    frames = [Image.fromarray(np.asarray(frame)[..., :3]) for frame in iio.imread(video, index=None)]
    if not frames:
        return None
    step = max(1, len(frames) // max_frames)
    frames = [frame.resize((width_px, max(1, frame.height * width_px // frame.width))) for frame in frames[::step]]
    with atomic_path(path) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path
