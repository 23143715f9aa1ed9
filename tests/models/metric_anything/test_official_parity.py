"""Converting an official-format checkpoint reproduces the official forward (the plain re-implementation
in tests/official_reference.py)."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ma_vlm.cli import main
from ma_vlm.models.metric_anything import MetricAnythingForDepthEstimation
from ma_vlm.models.metric_anything.convert import convert_state_dict, infer_config, load_converted
from ma_vlm.testing.official_reference import OfficialStudentDepthMap


@pytest.fixture(scope="module")
def reference(official_state_dict):
    return OfficialStudentDepthMap(official_state_dict, heads=2)


def test_converter_infers_the_published_layout(official_state_dict):
    config = infer_config(official_state_dict)
    assert config.backbone_config.num_hidden_layers == 32
    assert config.backbone_config.num_attention_heads == 2  # from the RoPE periods buffer
    assert config.backbone_config.num_register_tokens == 4
    assert config.tap_layers == [7, 13, 19, 25]
    assert config.tap_upsample_steps == [1, 2, 2, 2] and config.level_upsample_steps == [3, 1, 1]
    assert (config.image_size, config.tile_size) == (1536, 384)


def test_vit_tokens_and_taps_match_on_one_tile(official_state_dict, reference):
    config = infer_config(official_state_dict)
    model = MetricAnythingForDepthEstimation(config).eval()
    load_converted(model, convert_state_dict(official_state_dict, config))
    tile = torch.randn(2, 3, 384, 384, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = reference.vit(tile)
        final, taps, _ = model.model.run_vit(tile, config.tap_layers, tap_count=2)
    torch.testing.assert_close(model.model._drop_registers(final), expected, atol=2e-5, rtol=1e-4)
    for layer, tap in zip(config.tap_layers, taps):
        torch.testing.assert_close(tap, reference.hooked[layer], atol=2e-5, rtol=1e-4)


def test_convert_then_depth_cli_matches_the_official_forward(tmp_path, official_checkpoint, reference):
    rng = np.random.default_rng(3)
    image = (rng.random((120, 160, 3)) * 255).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "scene.png")
    (tmp_path / "scene.json").write_text(json.dumps({"cam_in": [150.0, 151.0, 80.0, 60.0]}))

    assert main(["convert", str(official_checkpoint), str(tmp_path / "model")]) == 0
    assert main(["depth", str(tmp_path / "scene.png"), "--model", str(tmp_path / "model"),
                 "--output", str(tmp_path / "out")]) == 0

    depth_m = np.load(tmp_path / "out" / "scene.npy")
    assert depth_m.shape == (120, 160) and depth_m.dtype == np.float32
    expected_inverse, expected_depth = reference.infer(image, 150.0)  # official uses fx
    ours_inverse = 1.0 / torch.from_numpy(depth_m)
    relative = ((ours_inverse - expected_inverse).abs() / expected_inverse.abs()).max().item()
    assert relative < 1e-4, relative
    assert 0.1 < expected_depth.median().item() < 100  # a meaningful, unclamped depth range
