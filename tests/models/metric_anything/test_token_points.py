"""The tower as a component: one forward gives tokens, each token's depth and its 3D point."""

import numpy as np
import pytest
import torch

from ma_vlm.errors import MaVlmInputError
from ma_vlm.models.metric_anything import MetricAnythingForDepthEstimation, MetricAnythingImageProcessor
from ma_vlm.models.metric_anything.convert import convert_checkpoint

# A 4:3 image from a camera with fx != fy and an off-centre principal point.
CAMERA = [70.0, 64.0, 41.5, 27.0]


@pytest.fixture(scope="module")
def converted(official_checkpoint, tmp_path_factory):
    """The converted tiny official checkpoint (published 1536 px layout) and its processor."""
    folder = tmp_path_factory.mktemp("converted")
    convert_checkpoint(official_checkpoint, folder)
    return MetricAnythingForDepthEstimation.from_pretrained(folder).eval(), MetricAnythingImageProcessor.from_pretrained(folder)


def test_processor_rescales_intrinsics_per_axis_to_network_pixels():
    processor = MetricAnythingImageProcessor(size=512)
    out = processor(np.zeros((60, 80, 3), np.uint8), intrinsics=[CAMERA])
    sx, sy = 512 / 80, 512 / 60
    expected = [70.0 * sx, 64.0 * sy, (41.5 + 0.5) * sx - 0.5, (27.0 + 0.5) * sy - 0.5]
    torch.testing.assert_close(out["intrinsics"], torch.tensor([expected]))
    assert out["focal_length_px"].tolist() == pytest.approx([70.0 * sx])
    with pytest.raises(MaVlmInputError, match="not both"):
        processor(np.zeros((60, 80, 3), np.uint8), intrinsics=[CAMERA], focal_length_px=70.0)


def test_one_pass_gives_token_depth_and_points_on_each_tokens_ray(converted):
    model, processor = converted
    image = (np.random.default_rng(0).random((60, 80, 3)) * 255).astype(np.uint8)
    inputs = processor(image, intrinsics=[CAMERA])
    with torch.no_grad():
        out = model(**inputs)
    tokens = out.last_hidden_state.shape[1] - 1  # CLS excluded
    assert tokens == 24 * 24
    assert out.token_depth.shape == (1, tokens) and out.token_points.shape == (1, tokens, 3)
    torch.testing.assert_close(out.intrinsics, inputs["intrinsics"])

    # token k = (row i, column j) covers pixels [64 i, 64 i + 64) x [64 j, 64 j + 64) of the 1536 px input
    k, i, j = 24 * 5 + 17, 5, 17
    block = out.predicted_depth[0, 64 * i : 64 * i + 64, 64 * j : 64 * j + 64]
    assert out.token_depth[0, k] == block.flatten().median()
    assert out.token_depth.std() > 0  # a real depth map, not the clamp

    fx, fy, cx, cy = out.intrinsics[0].tolist()
    centres = torch.arange(24) * 64 + 31.5
    u, v = centres.repeat(24), centres.repeat_interleave(24)
    points = out.token_points[0]
    torch.testing.assert_close(points[:, 2], out.token_depth[0])
    torch.testing.assert_close(points[:, 0] / points[:, 2], (u - cx) / fx)
    torch.testing.assert_close(points[:, 1] / points[:, 2], (v - cy) / fy)


def test_focal_length_shorthand_is_a_centred_camera(converted):
    model, _ = converted
    pixel_values = torch.randn(1, 3, 1536, 1536)
    with torch.no_grad():
        short = model(pixel_values, focal_length_px=900.0)
        full = model(pixel_values, intrinsics=torch.tensor([[900.0, 900.0, 767.5, 767.5]]))
    torch.testing.assert_close(short.token_points, full.token_points)
    with pytest.raises(MaVlmInputError, match="disagrees"):
        model(pixel_values, intrinsics=torch.tensor([[900.0, 900.0, 767.5, 767.5]]), focal_length_px=500.0)
