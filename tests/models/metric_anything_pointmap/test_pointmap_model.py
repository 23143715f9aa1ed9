"""The point-map model as a Transformers citizen: Auto classes, save/load, token grid, bad input."""

import pytest
import torch
from transformers import AutoConfig, AutoImageProcessor, AutoModel

from ma_vlm.errors import MaVlmInputError
from ma_vlm.models.metric_anything_pointmap import (
    MetricAnythingForPointMapEstimation,
    MetricAnythingPointMapConfig,
    MetricAnythingPointMapImageProcessor,
    pointmap_preset_config,
)
from ma_vlm.models.metric_anything_pointmap.modeling_metric_anything_pointmap import token_grid


def test_official_preset_is_the_published_size():
    with torch.device("meta"):
        model = MetricAnythingForPointMapEstimation(MetricAnythingPointMapConfig())
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(326.2e6, rel=1e-3)  # "326M"


def test_token_grid_keeps_the_aspect_ratio():
    assert token_grid(3600, 480, 640) == (52, 69)  # MoGe's rounding of sqrt(3600 / (4/3)), sqrt(3600 * 4/3)
    assert token_grid(1200, 640, 480) == (40, 30)
    config = pointmap_preset_config("official")
    assert config.num_tokens_for(9) == 3600 and config.num_tokens_for(0) == 1200


def test_save_load_round_trip_through_the_auto_classes(tmp_path):
    torch.manual_seed(0)
    model = MetricAnythingForPointMapEstimation(pointmap_preset_config("tiny")).eval()
    model.save_pretrained(tmp_path)
    MetricAnythingPointMapImageProcessor().save_pretrained(tmp_path)
    assert AutoConfig.from_pretrained(tmp_path).model_type == "metric_anything_pointmap"
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    processor = AutoImageProcessor.from_pretrained(tmp_path)
    pixel_values = processor(torch.rand(3, 42, 70))["pixel_values"]
    with torch.no_grad():
        a = model(pixel_values, resolution_level=0, recover_camera=False)
        b = loaded(pixel_values, resolution_level=0, recover_camera=False)
    assert torch.equal(a.affine_points, b.affine_points) and a.affine_points.shape == (1, 42, 70, 3)


def test_bad_inputs_are_named():
    model = MetricAnythingForPointMapEstimation(pointmap_preset_config("tiny"))
    with pytest.raises(MaVlmInputError, match="fov_x_deg"):
        model(torch.zeros(1, 3, 42, 42), fov_x_deg=200.0)
    with pytest.raises(MaVlmInputError, match="resolution_level"):
        model(torch.zeros(1, 3, 42, 42), resolution_level=12)
    with pytest.raises(MaVlmInputError, match="different sizes"):
        MetricAnythingPointMapImageProcessor()([torch.rand(3, 40, 40), torch.rand(3, 40, 50)])
