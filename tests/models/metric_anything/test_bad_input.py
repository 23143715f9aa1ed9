"""Bad input gets an error that names the problem and the fix, never a deep traceback."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ma_vlm import MaVlmInputError
from ma_vlm.cli import main
from ma_vlm.models.metric_anything import MetricAnythingImageProcessor
from ma_vlm.models.metric_anything.convert import convert_checkpoint, infer_config, load_official_state_dict

PROCESSOR = MetricAnythingImageProcessor(size=512)


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((64, 64), np.uint8), "grey"),
        (np.zeros((64, 64, 4), np.uint8), "RGBA"),
        (np.zeros((64, 64, 3), np.uint16), "16-bit"),
        (np.zeros((8, 8, 3), np.uint8), "at least 32 px"),
        (np.full((64, 64, 3), 2.0, np.float32), r"\[0, 1\]"),
        (Image.fromarray(np.zeros((64, 64), np.uint16)), "16-bit"),
    ],
)
def test_unusable_images_are_named(image, message):
    with pytest.raises(MaVlmInputError, match=message):
        PROCESSOR(image)


def test_grey_and_rgba_pil_images_are_converted_like_the_official_tool():
    grey = Image.fromarray(np.full((40, 50), 128, np.uint8))
    rgba = Image.fromarray(np.full((40, 50, 4), 128, np.uint8))
    assert PROCESSOR(grey)["pixel_values"].shape == (1, 3, 512, 512)
    torch.testing.assert_close(PROCESSOR(rgba)["pixel_values"], PROCESSOR(grey)["pixel_values"])


@pytest.mark.parametrize("focal", [0.0, -5.0, float("nan"), float("inf"), [100.0, None]])
def test_bad_focal_lengths(focal):
    with pytest.raises(MaVlmInputError, match="focal length"):
        PROCESSOR([np.zeros((64, 64, 3), np.uint8)] * 2, focal_length_px=focal)


def test_focal_length_is_converted_to_network_pixels():
    out = PROCESSOR(np.zeros((64, 128, 3), np.uint8), focal_length_px=100.0)
    assert out["focal_length_px"].tolist() == [pytest.approx(100.0 * 512 / 128)]


def _drop(state, key):
    return {k: v for k, v in state.items() if k != key}


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s: _drop(s, "head.4.weight"), "not in the checkpoint"),
        (lambda s: {**s, "decoder.extra.weight": torch.zeros(1)}, "unknown to the model"),
        (lambda s: {**s, "encoder.patch_encoder.blocks.0.attn.extra": torch.zeros(1)}, "no place in the model"),
        (lambda s: {**s, "head.0.weight": torch.zeros(3, 3, 3, 3)}, "shape mismatch"),
        (lambda s: {"backbone.layer.0.weight": torch.zeros(2)}, "not a Metric Anything"),
        (lambda s: {**s, "encoder.patch_encoder.blocks.3.attn.qkv.bias_mask": torch.full((96,), float("nan"))},
         "NaN"),
    ],
)
def test_checkpoint_problems_are_named(tmp_path, official_state_dict, edit, message):
    path = tmp_path / "bad.pt"
    torch.save(edit(dict(official_state_dict)), path)
    with pytest.raises(MaVlmInputError, match=message):
        convert_checkpoint(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_head_count_flag_is_checked_against_the_rope_buffer(official_state_dict):
    with pytest.raises(MaVlmInputError, match="disagrees"):
        infer_config(official_state_dict, num_attention_heads=4)


def test_wrapped_and_safetensors_checkpoints_load(tmp_path, official_state_dict):
    from safetensors.torch import save_file

    torch.save({"state_dict": official_state_dict}, tmp_path / "wrapped.pt")
    save_file({k: v.contiguous() for k, v in official_state_dict.items()}, tmp_path / "ckpt.safetensors")
    for name in ("wrapped.pt", "ckpt.safetensors"):
        assert set(load_official_state_dict(tmp_path / name)) == set(official_state_dict)


def test_unreachable_hub_id_is_a_clear_error(tmp_path):
    with pytest.raises(MaVlmInputError, match="could not fetch"):
        load_official_state_dict("no-such-org/no-such-model")


def test_cli_errors_are_one_line_with_exit_code_2(tmp_path, tiny_model_dir, capsys):
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "photo.png")
    code = main(["depth", str(tmp_path / "photo.png"), "--model", str(tiny_model_dir), "--output", str(tmp_path / "out")])
    assert code == 2
    error = capsys.readouterr().err
    assert "--focal-length-px" in error and "--assume-fov" in error and "photo.json" in error
    assert "Traceback" not in error
    (tmp_path / "photo.json").write_text(json.dumps({"cam_in": [-1, 1, 32, 32]}))
    assert main(["depth", str(tmp_path / "photo.png"), "--model", str(tiny_model_dir), "--output", str(tmp_path / "out")]) == 2
    assert "positive" in capsys.readouterr().err


def test_convert_refuses_to_overwrite(tmp_path, official_checkpoint):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    assert main(["convert", str(official_checkpoint), str(tmp_path / "out")]) == 2
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_predict_metric_depth_without_a_focal_length_says_how_to_give_one():
    from ma_vlm.depth.inference import predict_metric_depth

    with pytest.raises(MaVlmInputError, match="assume_fov_deg"):
        predict_metric_depth(None, PROCESSOR, np.zeros((64, 64, 3), np.uint8), focal_length_px=None)
