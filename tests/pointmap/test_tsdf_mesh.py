"""The optional TSDF mesh (`ma-vlm reconstruct --tsdf`, Open3D) is not empty for posed views of a wall."""

import numpy as np
import pytest

from ma_vlm.pointmap.reconstruct import View, tsdf_mesh

o3d = pytest.importorskip("open3d", reason="the [reconstruct] extra is not installed")


def test_two_posed_views_of_a_wall_give_a_mesh_on_the_wall(tmp_path):
    height, width = 48, 64
    depth = np.full((height, width), 2.0, np.float32)
    rgb = np.full((height, width, 3), 200, np.uint8)
    intrinsics = [50.0, 50.0, (width - 1) / 2, (height - 1) / 2]
    second = np.eye(4)
    second[0, 3] = 0.2  # 20 cm to the right, same wall 2 m ahead: it sits at z = 2 in both frames
    views = [View("a", rgb, depth, intrinsics), View("b", rgb, depth, intrinsics)]
    triangles = tsdf_mesh(views, [np.eye(4), second], 0.02, tmp_path / "mesh.ply")
    assert isinstance(triangles, int) and triangles > 100
    mesh = o3d.io.read_triangle_mesh(str(tmp_path / "mesh.ply"))
    z = np.asarray(mesh.vertices)[:, 2]
    assert abs(np.median(z) - 2.0) < 0.05
