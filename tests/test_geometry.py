"""One camera convention: resizing a camera and back-projecting keep the scene where it is."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ma_vlm.geometry import Intrinsics, backproject, scale_intrinsics
from ma_vlm.models.metric_anything import MetricAnythingImageProcessor
from ma_vlm.models.metric_anything.depth_units import canonical_to_depth, depth_to_canonical

# The plane n . X = d seen by a non-square, off-centre camera of a 64 x 48 image.
NORMAL, OFFSET = torch.tensor([0.2, -0.3, 1.0], dtype=torch.float64), 2.5
CAMERA = [52.0, 47.0, 30.2, 25.7]


def render_plane(intrinsics, width, height) -> torch.Tensor:
    """(H, W) z-depth of the plane, ray-cast through every pixel centre (integer coordinates)."""
    fx, fy, cx, cy = intrinsics
    v, u = torch.meshgrid(torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64),
                          indexing="ij")
    rays = torch.stack([(u - cx) / fx, (v - cy) / fy, torch.ones_like(u)], dim=-1)
    return OFFSET / (rays @ NORMAL)


def test_resize_then_backproject_a_rendered_plane_gives_the_same_plane():
    depth = render_plane(CAMERA, 64, 48)
    processor = MetricAnythingImageProcessor(size=32)  # squashes 64 x 48 to 32 x 32: sx != sy
    network_camera = processor(np.zeros((48, 64, 3), np.uint8), intrinsics=[CAMERA])["intrinsics"].double()
    # inverse depth of a plane is affine in pixel coordinates, so bilinear resizing keeps it exact
    resized = 1 / F.interpolate(1 / depth[None, None], size=(32, 32), mode="bilinear", align_corners=False)[0]
    points = backproject(resized, network_camera)
    assert points.shape == (1, 32, 32, 3)
    torch.testing.assert_close(points @ NORMAL, torch.full((1, 32, 32), OFFSET, dtype=torch.float64))


def test_intrinsics_scale_per_axis_about_pixel_centres():
    scaled = scale_intrinsics(torch.tensor([CAMERA]), torch.tensor([0.5]), torch.tensor([2.0]))
    # (c + 0.5) * s - 0.5: (30.2 + 0.5) / 2 - 0.5 and (25.7 + 0.5) * 2 - 0.5
    assert scaled.tolist() == [[26.0, 94.0, pytest.approx(14.85), pytest.approx(51.9)]]
    # a centred principal point stays centred: (64 - 1) / 2 -> (32 - 1) / 2
    assert Intrinsics.from_focal_length(10.0, 64, 48).scaled(0.5, 0.5).as_list() == [5.0, 5.0, 15.5, 11.5]


def test_batched_backprojection_equals_one_image_at_a_time():
    depth = torch.rand(2, 5, 7) + 1
    cameras = torch.tensor([CAMERA, [20.0, 21.0, 3.0, 2.0]])
    batched = backproject(depth, cameras)
    for image in range(2):
        single = backproject(depth[image].numpy(), Intrinsics.from_cam_in(cameras[image].tolist()))
        np.testing.assert_allclose(batched[image].numpy(), single, rtol=1e-6)


def test_canonical_and_metric_depth_convert_both_ways():
    depth = torch.tensor([[0.5, 3.0], [40.0, 900.0]])
    focal, width = torch.tensor([300.0, 600.0]), 512
    canonical = depth_to_canonical(depth, focal, width)
    assert canonical[1, 0].item() == pytest.approx(600 / (512 * 40))
    torch.testing.assert_close(canonical_to_depth(canonical, focal, width), depth)
    # outside [1e-3, 1e3] m the official clamp applies
    assert canonical_to_depth(torch.tensor([0.0]), 300.0, 512).item() == pytest.approx(1e3)
