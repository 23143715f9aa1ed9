"""Readers for depth benchmarks on local disk, all yielding samples in our record form.

A sample is a dict with ``image`` (H, W, 3) uint8, ``depth`` (H, W) float32 metres (0 =
invalid), ``intrinsics`` [fx, fy, cx, cy] (pixel centres at integer coordinates), ``source``,
``scene_id`` and, where the benchmark ships one, ``sensor_depth`` (H, W) metres (KITTI's raw
LiDAR: the real sparse prompt). ``open_depth_benchmark(path)`` picks the reader:

  * NYUv2 labelled ``.mat`` (MATLAB v7.3 = HDF5): ``images`` (N, 3, 640, 480) uint8 and
    ``depths`` (N, 640, 480) float metres as h5py sees MATLAB's column-major arrays, i.e.
    transposed; a ``splits.mat`` beside it selects its ``testNdxs`` (the 654-image test set).
  * KITTI depth selection (``depth_selection/val_selection_cropped``): ``image/``,
    ``groundtruth_depth/``, ``velodyne_raw/`` uint16 PNG / 256 = metres (0 invalid) and
    ``intrinsics/*.txt`` (the 3 x 3 K, row-major).
  * A plain folder: ``<stem>.png`` RGB, ``<stem>_depth.png`` uint16 millimetres (0 invalid),
    ``<stem>.json`` ``{"cam_in": [fx, fy, cx, cy]}``.
  * A Hugging Face dataset in our schema (see ``ma_vlm.data.loading.load_rgbd_dataset``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ma_vlm.benchmarks.depth.metrics import PROTOCOLS, EvalProtocol
from ma_vlm.errors import MaVlmInputError

# NYUv2 Kinect colour camera (Silberman et al. 2012 toolbox), pixels of the 640 x 480 image.
NYUV2_INTRINSICS = [518.8579, 519.4696, 325.5824, 253.7362]


@dataclass
class DepthBenchmark:
    name: str  # "nyuv2", "kitti", "folder", "hf"
    protocol: EvalProtocol
    num_samples: int
    samples: Callable[[], Iterator[dict]]  # a fresh iterator over the samples


def _read_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image)


def _read_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def read_nyuv2_mat(path: str | Path, indices=None) -> DepthBenchmark:
    """NYUv2 ``nyu_depth_v2_labeled.mat``; ``indices`` (0-based) default to ``splits.mat``'s
    test indices when that file sits beside it, else every image."""
    import h5py

    path = Path(path)
    with h5py.File(path, "r") as handle:
        if "images" not in handle or "depths" not in handle:
            raise MaVlmInputError(f"{path}: expected the NYUv2 labelled .mat with 'images' and 'depths'.")
        count = handle["depths"].shape[0]
    if indices is None and (path.parent / "splits.mat").exists():
        from scipy.io import loadmat

        indices = (loadmat(path.parent / "splits.mat")["testNdxs"].ravel() - 1).tolist()
    indices = list(range(count)) if indices is None else [int(i) for i in indices]

    def samples():
        with h5py.File(path, "r") as handle:
            for i in indices:
                yield {
                    "image": np.ascontiguousarray(np.transpose(handle["images"][i], (2, 1, 0))),
                    "depth": np.ascontiguousarray(handle["depths"][i].T, dtype=np.float32),
                    "intrinsics": list(NYUV2_INTRINSICS), "source": "nyuv2", "scene_id": f"nyuv2-{i:04d}",
                }

    return DepthBenchmark("nyuv2", PROTOCOLS["nyuv2"], len(indices), samples)


def _kitti_root(path: Path) -> Path:
    for candidate in (path, path / "val_selection_cropped", path / "depth_selection" / "val_selection_cropped"):
        if (candidate / "image").is_dir() and (candidate / "groundtruth_depth").is_dir():
            return candidate
    raise MaVlmInputError(
        f"{path}: no KITTI depth selection folder (image/ + groundtruth_depth/ + intrinsics/); "
        "point --data at depth_selection/val_selection_cropped."
    )


def read_kitti_depth_selection(path: str | Path) -> DepthBenchmark:
    """KITTI ``depth_selection/val_selection_cropped`` (1000 images of 352 x 1216)."""
    root = _kitti_root(Path(path))
    images = sorted((root / "image").glob("*.png"))

    def samples():
        for image_path in images:
            name = image_path.name
            gt_path = root / "groundtruth_depth" / name.replace("_sync_image_", "_sync_groundtruth_depth_")
            lidar_path = root / "velodyne_raw" / name.replace("_sync_image_", "_sync_velodyne_raw_")
            k = np.loadtxt(root / "intrinsics" / f"{image_path.stem}.txt").reshape(3, 3)
            sample = {
                "image": _read_rgb(image_path),
                "depth": _read_png(gt_path).astype(np.float32) / 256.0,
                "intrinsics": [float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2])],
                "source": "kitti", "scene_id": image_path.stem,
            }
            if lidar_path.exists():
                sample["sensor_depth"] = _read_png(lidar_path).astype(np.float32) / 256.0
            yield sample

    return DepthBenchmark("kitti", PROTOCOLS["kitti"], len(images), samples)


def read_depth_folder(path: str | Path) -> DepthBenchmark:
    """A folder of ``<stem>.png`` + ``<stem>_depth.png`` (uint16 mm) + ``<stem>.json``."""
    from ma_vlm.geometry import Intrinsics

    root = Path(path)
    stems = sorted(p.name[: -len("_depth.png")] for p in root.glob("*_depth.png"))
    for stem in stems:
        for needed in (root / f"{stem}.png", root / f"{stem}.json"):
            if not needed.exists():
                raise MaVlmInputError(f"{needed} is missing: each <stem>_depth.png needs <stem>.png and <stem>.json.")

    def samples():
        for stem in stems:
            yield {
                "image": _read_rgb(root / f"{stem}.png"),
                "depth": _read_png(root / f"{stem}_depth.png").astype(np.float32) / 1000.0,
                "intrinsics": Intrinsics.from_json(root / f"{stem}.json").as_list(),
                "source": "folder", "scene_id": stem,
            }

    return DepthBenchmark("folder", PROTOCOLS["default"], len(stems), samples)


def read_rgbd_dataset(path_or_name: str | Path, split: str = "train") -> DepthBenchmark:
    """A Hugging Face dataset in our schema (generated or converted)."""
    from ma_vlm.data.loading import load_rgbd_dataset
    from ma_vlm.data.schema import decode_record

    dataset = load_rgbd_dataset(path_or_name, split=split)

    def samples():
        for row in dataset:
            yield decode_record(row)

    return DepthBenchmark("hf", PROTOCOLS["default"], len(dataset), samples)


def open_depth_benchmark(path: str | Path, kind: str = "auto") -> DepthBenchmark:
    """Open ``path`` with the reader for ``kind`` (``auto`` guesses from the files)."""
    path = Path(path)
    if kind == "auto":
        if path.suffix == ".mat":
            kind = "nyuv2"
        elif path.is_dir() and any(path.glob("*_depth.png")):
            kind = "folder"
        elif path.is_dir() and any((c / "groundtruth_depth").is_dir() for c in (
                path, path / "val_selection_cropped", path / "depth_selection" / "val_selection_cropped")):
            kind = "kitti"
        else:
            kind = "hf"
    readers = {"nyuv2": read_nyuv2_mat, "kitti": read_kitti_depth_selection,
               "folder": read_depth_folder, "hf": read_rgbd_dataset}
    if kind not in readers:
        raise MaVlmInputError(f"unknown benchmark format {kind!r}; use auto, {', '.join(readers)}.")
    if kind != "hf" and not path.exists():
        raise MaVlmInputError(f"{path} does not exist.")
    return readers[kind](path)
