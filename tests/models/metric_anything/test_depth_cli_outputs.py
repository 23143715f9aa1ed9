"""`ma-vlm depth` writes metres, a colour map and a point cloud that agree with each other."""

import numpy as np
from PIL import Image

from ma_vlm.cli import main
from ma_vlm.visualize import read_point_cloud_ply


def test_depth_outputs(tmp_path, tiny_model_dir, rgb_image):
    Image.fromarray(rgb_image).save(tmp_path / "room.png")
    code = main(["depth", str(tmp_path / "room.png"), "--model", str(tiny_model_dir),
                 "--output", str(tmp_path / "out"), "--focal-length-px", "90"])
    assert code == 0
    depth_m = np.load(tmp_path / "out" / "room.npy")
    assert depth_m.shape == (96, 128) and depth_m.dtype == np.float32
    assert Image.open(tmp_path / "out" / "room.png").size[0] > 100
    points, colors = read_point_cloud_ply(tmp_path / "out" / "room.ply")
    assert len(points) == 96 * 128
    np.testing.assert_allclose(points[:, 2], depth_m.reshape(-1), rtol=1e-6)  # z is the depth
    # pixel (0, 0) lies left of and above the centred principal point ((128 - 1) / 2, (96 - 1) / 2)
    assert points[0, 0] < 0 and points[0, 1] < 0
    np.testing.assert_allclose(points[0, 0], (0 - 63.5) / 90 * depth_m[0, 0], rtol=1e-5)
    assert (colors == rgb_image.reshape(-1, 3)).all()
