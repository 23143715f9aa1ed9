"""A tiny official-format Student-PointMap, converted, reproduces the published forward
(points, depth, mask, intrinsics) as re-implemented in tests/pointmap_reference.py."""

import numpy as np
import pytest
import torch
from transformers import AutoModel

from ma_vlm.cli import main
from ma_vlm.errors import MaVlmInputError
from ma_vlm.models.metric_anything_pointmap import MetricAnythingPointMapImageProcessor
from ma_vlm.testing.pointmap_reference import ReferencePointMap, make_pointmap_checkpoint


@pytest.fixture(scope="module")
def checkpoint():
    return make_pointmap_checkpoint(seed=0)


@pytest.fixture(scope="module")
def converted(tmp_path_factory, checkpoint):
    folder = tmp_path_factory.mktemp("pointmap")
    torch.save(checkpoint, folder / "student_pointmap.pt")
    assert main(["convert", str(folder / "student_pointmap.pt"), str(folder / "model")]) == 0
    return AutoModel.from_pretrained(folder / "model").eval(), folder / "model"


@pytest.mark.parametrize("size,num_tokens", [((60, 90), 96), ((90, 60), 64)])  # landscape and portrait
def test_converted_checkpoint_matches_the_published_forward(checkpoint, converted, size, num_tokens):
    model, folder = converted
    image = (np.random.default_rng(1).random((*size, 3)) * 255).astype(np.uint8)
    pixel_values = MetricAnythingPointMapImageProcessor.from_pretrained(folder)(image)["pixel_values"]
    with torch.no_grad():
        ours = model(pixel_values, num_tokens=num_tokens)
    reference = ReferencePointMap(checkpoint, heads=1)
    exact = reference.infer(torch.from_numpy(image).permute(2, 0, 1) / 255.0, num_tokens, ftol=1e-15)
    valid = exact["mask"]
    assert torch.equal(ours.mask[0], valid) and valid.float().mean() > 0.5
    torch.testing.assert_close(ours.intrinsics[0], torch.tensor(exact["intrinsics"], dtype=torch.float32),
                               rtol=1e-5, atol=1e-4)
    depth_error = ((ours.predicted_depth[0] - exact["depth"]).abs() / exact["depth"])[valid].max()
    assert depth_error < 1e-5, depth_error
    torch.testing.assert_close(ours.points[0][valid], exact["points"][valid], rtol=1e-5, atol=1e-5)
    assert ours.metric_scale.item() == pytest.approx(exact["metric_scale"], rel=1e-5)
    # The published solver (LM, ftol 1e-3) stops short of the minimiser ours converges to.
    published = reference.infer(torch.from_numpy(image).permute(2, 0, 1) / 255.0, num_tokens)
    assert ours.intrinsics[0, 0].item() == pytest.approx(published["intrinsics"][0], rel=1e-3)


@pytest.mark.parametrize("size,num_tokens", [((60, 90), 96), ((90, 60), 64)])
def test_the_published_camera_solver_reproduces_the_official_outputs(checkpoint, converted, size, num_tokens):
    """camera_solver="published" (config field; `--camera-solver published` on the command line)
    stops where the official solver stops, for a paper table that needs its numbers exactly."""
    _, folder = converted
    model = AutoModel.from_pretrained(folder, camera_solver="published").eval()
    image = (np.random.default_rng(1).random((*size, 3)) * 255).astype(np.uint8)
    pixel_values = MetricAnythingPointMapImageProcessor.from_pretrained(folder)(image)["pixel_values"]
    with torch.no_grad():
        ours = model(pixel_values, num_tokens=num_tokens)
    published = ReferencePointMap(checkpoint, heads=1).infer(torch.from_numpy(image).permute(2, 0, 1) / 255.0,
                                                              num_tokens)
    valid = published["mask"]
    torch.testing.assert_close(ours.intrinsics[0], torch.tensor(published["intrinsics"], dtype=torch.float32),
                               rtol=1e-5, atol=1e-4)
    depth_error = ((ours.predicted_depth[0] - published["depth"]).abs() / published["depth"])[valid].max()
    assert depth_error < 1e-5, depth_error


def test_known_field_of_view_solves_only_the_shift(checkpoint, converted):
    model, folder = converted
    image = (np.random.default_rng(2).random((60, 80, 3)) * 255).astype(np.uint8)
    pixel_values = MetricAnythingPointMapImageProcessor.from_pretrained(folder)(image)["pixel_values"]
    with torch.no_grad():
        ours = model(pixel_values, num_tokens=64, fov_x_deg=70.0)
    exact = ReferencePointMap(checkpoint, heads=1).infer(torch.from_numpy(image).permute(2, 0, 1) / 255.0, 64,
                                                          fov_x=70.0, ftol=1e-15)
    assert ours.intrinsics[0, 0].item() == pytest.approx(40 / np.tan(np.radians(35)), rel=1e-6)
    torch.testing.assert_close(ours.intrinsics[0], torch.tensor(exact["intrinsics"], dtype=torch.float32))
    torch.testing.assert_close(ours.predicted_depth[0][exact["mask"]], exact["depth"][exact["mask"]],
                               rtol=1e-5, atol=1e-5)


def test_layout_read_from_model_config(converted):
    config = converted[0].config
    assert config.model_type == "metric_anything_pointmap"
    assert config.intermediate_layers == [0, 1, 2, 3] and config.remap_output == "exp"
    assert config.neck_num_res_blocks == [0, 2, 2, 2, 0] and config.head_num_res_blocks == [0, 1, 1, 1, 0]
    assert config.backbone_config.image_size == 70 and config.num_tokens_range == [32, 96]
    assert config.num_tokens_for(9) == 96 and config.num_tokens_for(0) == 32


@pytest.mark.parametrize("edit,message", [
    (lambda s: s.pop("neck.input_blocks.0.weight"), "model weights not in the checkpoint"),
    (lambda s: s.__setitem__("neck.extra.weight", torch.zeros(1)), "no place in the model"),
    (lambda s: s.__setitem__("scale_head.0.weight", torch.zeros(3, 3)), "shape mismatches"),
    (lambda s: s.__setitem__("encoder.image_std", torch.ones(1, 3, 1, 1)), "not ImageNet"),
    (lambda s: s.pop("encoder.backbone.cls_token"), "not a Student-PointMap"),
])
def test_every_key_mismatch_is_a_clear_error(tmp_path, checkpoint, edit, message):
    state = dict(checkpoint["model"])
    edit(state)
    torch.save({"model_config": checkpoint["model_config"], "model": state}, tmp_path / "bad.pt")
    with pytest.raises(MaVlmInputError, match=message):
        _convert(tmp_path)
    assert not (tmp_path / "out").exists()


def _convert(folder):
    from ma_vlm.models.metric_anything_pointmap.convert import convert_pointmap_checkpoint

    convert_pointmap_checkpoint(folder / "bad.pt", folder / "out")


def test_cli_reports_a_bad_checkpoint_in_one_line(tmp_path, checkpoint, capsys):
    torch.save({"model_config": {"encoder": {"backbone": "dinov2_vitg14"}, "neck": {}, "points_head": {}},
                "model": checkpoint["model"]}, tmp_path / "bad.pt")
    assert main(["convert", str(tmp_path / "bad.pt"), str(tmp_path / "out")]) == 2
    assert "not supported" in capsys.readouterr().err
