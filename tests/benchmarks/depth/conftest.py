import os

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen rendering on the CPU


@pytest.fixture
def kitti_selection(tmp_path):
    """A one-image KITTI ``depth_selection/val_selection_cropped`` tree in the real format:
    uint16 PNG depth / 256 = metres (0 invalid), K as 9 numbers in ``intrinsics/<stem>.txt``.
    Ground truth: 10.5 m at (2, 3) and 12 m at (3, 8); raw LiDAR: 7 m at (1, 1)."""
    root = tmp_path / "depth_selection" / "val_selection_cropped"
    for folder in ("image", "groundtruth_depth", "velodyne_raw", "intrinsics"):
        (root / folder).mkdir(parents=True)
    stem = "2011_09_26_drive_0002_sync_{}_0000000005_image_02"
    Image.fromarray(np.full((4, 12, 3), 90, np.uint8)).save(root / "image" / f"{stem.format('image')}.png")
    gt = np.zeros((4, 12), np.uint16)
    gt[2, 3], gt[3, 8] = 256 * 10 + 128, 256 * 12
    Image.fromarray(gt).save(root / "groundtruth_depth" / f"{stem.format('groundtruth_depth')}.png")
    lidar = np.zeros((4, 12), np.uint16)
    lidar[1, 1] = 256 * 7
    Image.fromarray(lidar).save(root / "velodyne_raw" / f"{stem.format('velodyne_raw')}.png")
    (root / "intrinsics" / f"{stem.format('image')}.txt").write_text(
        "721.5377 0.0 596.5593 0.0 721.5377 149.854 0.0 0.0 1.0")
    return tmp_path
