"""Transformers-native behaviour: Auto classes, exact round trips, pipeline, metric units."""

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import AutoConfig, AutoImageProcessor, AutoModel, AutoModelForDepthEstimation, pipeline

import ma_vlm
from ma_vlm import MaVlmInputError, MetricAnythingModel, predict_metric_depth
from ma_vlm.models.metric_anything import MetricAnythingImageProcessor, preset_config


def test_auto_classes_round_trip_exactly(tiny_model_dir, tmp_path):
    model = AutoModelForDepthEstimation.from_pretrained(tiny_model_dir)
    model.save_pretrained(tmp_path)
    again = AutoModelForDepthEstimation.from_pretrained(tmp_path)
    for (name, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), name
    assert AutoConfig.from_pretrained(tiny_model_dir).model_type == "metric_anything"
    assert isinstance(AutoModel.from_pretrained(tiny_model_dir), MetricAnythingModel)
    assert isinstance(AutoImageProcessor.from_pretrained(tiny_model_dir), MetricAnythingImageProcessor)
    assert (tmp_path / "model.safetensors").exists()


def test_depth_is_metres_at_the_input_size_and_scales_with_focal_length(tiny_model_dir, rgb_image):
    model = AutoModelForDepthEstimation.from_pretrained(tiny_model_dir).eval()
    processor = AutoImageProcessor.from_pretrained(tiny_model_dir)
    depth_short = predict_metric_depth(model, processor, rgb_image, focal_length_px=100.0)
    depth_long = predict_metric_depth(model, processor, rgb_image, focal_length_px=200.0)
    assert depth_short.shape == rgb_image.shape[:2]
    unclamped = (depth_short > 2e-3) & (depth_long < 999)
    assert unclamped.mean() > 0.5
    # metric depth = f / (canonical * W): twice the focal length, twice the depth
    np.testing.assert_allclose(depth_long[unclamped], 2 * depth_short[unclamped], rtol=1e-4)


def test_depth_estimation_pipeline(tiny_model_dir, rgb_image):
    processor = AutoImageProcessor.from_pretrained(tiny_model_dir, assume_fov_deg=60.0)
    estimator = pipeline("depth-estimation", model=str(tiny_model_dir), image_processor=processor)
    result = estimator(Image.fromarray(rgb_image))
    assert tuple(result["predicted_depth"].shape) == rgb_image.shape[:2]
    assert result["depth"].size == (rgb_image.shape[1], rgb_image.shape[0])


def test_visual_tokens_and_depth_come_from_one_pass(tiny_model_dir):
    model = AutoModelForDepthEstimation.from_pretrained(tiny_model_dir).eval()
    pixel_values = torch.randn(2, 3, 512, 512)
    with torch.no_grad():
        out = model(pixel_values, focal_length_px=torch.tensor([400.0, 500.0]), output_hidden_states=True)
        tower = model.model(pixel_values, output_hidden_states=True)
    assert out.predicted_depth.shape == (2, 512, 512)
    torch.testing.assert_close(out.last_hidden_state, tower.last_hidden_state)
    assert out.last_hidden_state.shape == (2, 1 + 8 * 8, 32)  # CLS + the 128 px quarter tile's 8x8 patches
    assert len(out.hidden_states) == 4 + 1


def test_single_mode_tower_takes_any_multiple_of_the_patch_size():
    tower = MetricAnythingModel(preset_config("tiny", use_pyramid=False)).eval()
    with torch.no_grad():
        out = tower(torch.randn(1, 3, 64, 96))
    assert out.last_hidden_state.shape == (1, 1 + 4 * 6, 32)
    with pytest.raises(MaVlmInputError, match="multiples of the patch size"):
        tower(torch.randn(1, 3, 60, 96))


def test_bf16_autocast_stays_close_to_fp32(tiny_model_dir):
    model = AutoModelForDepthEstimation.from_pretrained(tiny_model_dir).eval()
    pixel_values = torch.randn(1, 3, 512, 512, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        exact = model.model(pixel_values).last_hidden_state
        with torch.autocast("cpu", dtype=torch.bfloat16):
            fast = model.model(pixel_values).last_hidden_state.float()
    assert (fast - exact).abs().mean() / exact.abs().mean() < 0.05


def test_dinov2_backbone_is_an_alternative_config(tmp_path):
    backbone = dict(model_type="dinov2", patch_size=16, hidden_size=32, num_hidden_layers=4,
                    num_attention_heads=2, mlp_ratio=2, image_size=128)
    config = preset_config("tiny", backbone_config=backbone)
    model = ma_vlm.MetricAnythingForDepthEstimation(config).eval()
    model.save_pretrained(tmp_path)
    again = AutoModelForDepthEstimation.from_pretrained(tmp_path).eval()
    assert type(again.model.backbone).__name__ == "Dinov2Model"
    pixel_values = torch.randn(1, 3, 512, 512)
    with torch.no_grad():
        out = again(pixel_values, focal_length_px=500.0)
        torch.testing.assert_close(out.canonical_inverse_depth, model(pixel_values).canonical_inverse_depth)
    assert out.last_hidden_state.shape == (1, 1 + 8 * 8, 32)
