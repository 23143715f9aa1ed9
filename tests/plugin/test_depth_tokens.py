"""What the plugin reads from one tower pass, and its layers at initialisation (no MLLM needed)."""

import numpy as np
import torch

from ma_vlm.models.metric_anything import MetricAnythingImageProcessor
from ma_vlm.plugin import depth_prior_inputs
from ma_vlm.plugin.layers import GatedCrossAttention, PositionEncoding3D, resample_grid
from ma_vlm.plugin.tower import backproject_tokens


def test_token_points_are_patch_centres_back_projected():
    depth = torch.full((1, 4), 2.0)  # a 2x2 grid over an 8x8 px image, 2 m everywhere
    points = backproject_tokens(depth, torch.tensor([[4.0, 4.0, 3.5, 3.5]]), (2, 2), (8, 8))
    # token centres at u, v = 1.5 and 5.5 px; x = (u - cx) / fx * z = -/+ 1 m
    expected = torch.tensor([[[-1.0, -1.0, 2.0], [1.0, -1.0, 2.0], [-1.0, 1.0, 2.0], [1.0, 1.0, 2.0]]])
    torch.testing.assert_close(points, expected)


def test_depth_prior_inputs_rescale_intrinsics_to_the_network_square():
    image = np.zeros((96, 128, 3), np.uint8)
    inputs = depth_prior_inputs(MetricAnythingImageProcessor(size=512), [image], [[100.0, 90.0, 64.0, 48.0]])
    assert inputs["depth_prior_pixel_values"].shape == (1, 3, 512, 512)
    # fx, fy scale separately; principal point with integer pixel centres: (c + 0.5) * s - 0.5
    expected = [[400.0, 480.0, 64.5 * 4 - 0.5, 48.5 * 512 / 96 - 0.5]]
    torch.testing.assert_close(inputs["depth_prior_intrinsics"], torch.tensor(expected))


def test_resampling_keeps_a_constant_field_and_changes_the_grid():
    field = torch.full((1, 64, 3), 1.5)
    assert resample_grid(field, (8, 8), (4, 4)).shape == (1, 16, 3)
    torch.testing.assert_close(resample_grid(field, (8, 8), (3, 5)), torch.full((1, 15, 3), 1.5))


def test_new_layers_are_the_identity_until_trained():
    torch.manual_seed(0)
    assert PositionEncoding3D(16)(torch.randn(2, 5, 3) * 10).abs().max() == 0
    hidden, memory = torch.randn(2, 7, 16), torch.randn(2, 5, 16)
    torch.testing.assert_close(GatedCrossAttention(16, 4)(hidden, memory), hidden, rtol=0, atol=0)
