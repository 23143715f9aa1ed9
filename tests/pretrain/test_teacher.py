"""The prompt-based teacher: loads a student unchanged, round-trips, converts prompts to its units."""

import numpy as np
import pytest
import torch

from ma_vlm.errors import MaVlmInputError
from ma_vlm.models.metric_anything import MetricAnythingForDepthEstimation, MetricAnythingImageProcessor


def _inputs(size=256, seed=0):
    generator = torch.Generator().manual_seed(seed)
    pixel_values = torch.randn(2, 3, size, size, generator=generator)
    prompt = torch.zeros(2, 1, size, size)
    prompt[:, :, ::8, ::8] = 1.0 + 4.0 * torch.rand(2, 1, size // 8, size // 8, generator=generator)
    return pixel_values, torch.tensor([200.0, 260.0]), prompt


def test_a_student_checkpoint_loads_into_a_teacher_and_predicts_the_same_depth(tmp_path, tiny_model_config):
    torch.manual_seed(0)
    student = MetricAnythingForDepthEstimation(tiny_model_config).eval()
    with torch.no_grad():
        student.head[-2].bias.fill_(0.5)  # as after training: predictions away from the ReLU floor
    student.save_pretrained(tmp_path / "student")
    teacher = MetricAnythingForDepthEstimation.from_pretrained(tmp_path / "student", use_prompt=True).eval()
    assert teacher.config.use_prompt and teacher.decoder.fusions[0].prompt_depth_layer is not None
    pixel_values, focal, prompt = _inputs()
    with torch.no_grad():
        expected = student(pixel_values, focal_length_px=focal).canonical_inverse_depth
        prompted = teacher(pixel_values, focal_length_px=focal, prompt_depth=prompt).canonical_inverse_depth
        unprompted = teacher(pixel_values, focal_length_px=focal).canonical_inverse_depth
    assert expected.min() > 0
    assert torch.equal(prompted, expected) and torch.equal(unprompted, expected)


def test_a_trained_teacher_round_trips_and_its_prompt_changes_the_depth(tmp_path, tiny_model_config):
    torch.manual_seed(0)
    teacher = MetricAnythingForDepthEstimation(tiny_model_config.__class__(**{**tiny_model_config.to_dict(), "use_prompt": True}))
    with torch.no_grad():  # as after training: the prompt layers' output convs are no longer zero
        for fusion in teacher.decoder.fusions:
            fusion.prompt_depth_layer.convolution3.weight.normal_(std=0.05)
        teacher.head[-2].weight.normal_(std=0.05)  # a new head starts constant (zero weights)
        teacher.head[-2].bias.fill_(0.5)  # away from the ReLU floor, so changes are visible
    teacher.eval().save_pretrained(tmp_path / "teacher")
    reloaded = MetricAnythingForDepthEstimation.from_pretrained(tmp_path / "teacher").eval()
    pixel_values, focal, prompt = _inputs()
    with torch.no_grad():
        before = teacher(pixel_values, focal_length_px=focal, prompt_depth=prompt).canonical_inverse_depth
        after = reloaded(pixel_values, focal_length_px=focal, prompt_depth=prompt).canonical_inverse_depth
        without = reloaded(pixel_values, focal_length_px=focal).canonical_inverse_depth
        empty = reloaded(pixel_values, focal_length_px=focal,
                         prompt_depth=torch.zeros_like(prompt)).canonical_inverse_depth
    assert torch.equal(before, after)
    assert not torch.allclose(after, without)  # the prompt reaches the prediction
    assert torch.equal(empty, without)  # an all-zero prompt means "no prompt"
    # A teacher folder loads as a prompt-free student too (prompt layers dropped).
    student = MetricAnythingForDepthEstimation.from_pretrained(tmp_path / "teacher", use_prompt=False)
    assert not any("prompt_depth_layer" in name for name in student.state_dict())


def test_prompt_errors_name_the_fix(tiny_model_config):
    torch.manual_seed(0)
    student = MetricAnythingForDepthEstimation(tiny_model_config).eval()
    teacher = MetricAnythingForDepthEstimation(tiny_model_config.__class__(**{**tiny_model_config.to_dict(), "use_prompt": True}))
    pixel_values, focal, prompt = _inputs()
    with pytest.raises(MaVlmInputError, match="use_prompt=True"):
        student(pixel_values, focal_length_px=focal, prompt_depth=prompt)
    with pytest.raises(MaVlmInputError, match="needs focal_length_px"):
        teacher(pixel_values, prompt_depth=prompt)
    with pytest.raises(MaVlmInputError, match="prepare_prompt_depth"):
        teacher(pixel_values, focal_length_px=focal, prompt_depth=prompt[..., :128, :128])


def test_prepare_prompt_depth_keeps_sparse_points_and_rejects_bad_values():
    processor = MetricAnythingImageProcessor(size=8)
    sparse = np.zeros((16, 32), np.float32)
    sparse[0, 0], sparse[0, 1] = 2.0, 4.0  # both land in network pixel (0, 0): their mean
    sparse[15, 31] = 7.0
    resized = processor.prepare_prompt_depth(sparse)
    assert resized.shape == (1, 1, 8, 8)
    assert resized[0, 0, 0, 0].item() == 3.0 and resized[0, 0, 7, 7].item() == 7.0
    assert int((resized > 0).sum()) == 2  # no blurred values around the points
    up = MetricAnythingImageProcessor(size=64).prepare_prompt_depth(sparse)
    assert int((up > 0).sum()) == 3 and set(up[up > 0].tolist()) == {2.0, 4.0, 7.0}
    for bad, message in ((np.full((4, 4), np.nan), "NaN"), (-np.ones((4, 4)), "negative")):
        with pytest.raises(MaVlmInputError, match=message):
            processor.prepare_prompt_depth(bad)


def test_a_teacher_folder_serves_prompted_depth_at_the_image_size(tmp_path, tiny_model_config):
    torch.manual_seed(0)
    config = tiny_model_config.__class__(**{**tiny_model_config.to_dict(), "use_prompt": True})
    MetricAnythingForDepthEstimation(config).save_pretrained(tmp_path / "teacher")
    MetricAnythingImageProcessor(size=256).save_pretrained(tmp_path / "teacher")
    from ma_vlm.benchmarks.depth.runner import load_predictor

    predict = load_predictor(str(tmp_path / "teacher"))
    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    prompt = np.zeros((48, 64), np.float32)
    prompt[::8, ::8] = 2.5
    depth = predict(image, [60.0, 60.0, 32.0, 24.0], prompt)
    assert depth.shape == (48, 64) and np.isfinite(depth).all() and (depth > 0).all()


def test_ma_vlm_depth_completes_a_sparse_prompt_with_a_teacher(tmp_path, tiny_model_config):
    """Depth completion from the command line: with its fusion gate open (as after training),
    the teacher's depth passes through the prompt's points; bad prompt files are named."""
    from PIL import Image

    from ma_vlm.cli import main

    torch.manual_seed(0)
    config = tiny_model_config.__class__(**{**tiny_model_config.to_dict(), "use_prompt": True})
    teacher = MetricAnythingForDepthEstimation(config)
    with torch.no_grad():
        teacher.head[-2].bias.fill_(0.5)
        teacher.prompt_fusion.convolution3.bias.fill_(10.0)  # gate tanh(10) ~ 1: trust the prompt
    teacher.save_pretrained(tmp_path / "teacher")
    MetricAnythingImageProcessor(size=256).save_pretrained(tmp_path / "teacher")
    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / "scene.png")
    prompt_mm = np.zeros((48, 64), np.uint16)
    prompt_mm[::6, ::6] = 2500  # a flat wall 2.5 m away, sampled on a grid
    Image.fromarray(prompt_mm).save(tmp_path / "scene_prompt.png")
    args = ["depth", str(tmp_path / "scene.png"), "--model", str(tmp_path / "teacher"), "--focal-length-px", "60"]
    assert main([*args, "--output", str(tmp_path / "out"), "--prompt-depth", str(tmp_path / "scene_prompt.png")]) == 0
    completed = np.load(tmp_path / "out" / "scene.npy")
    np.testing.assert_allclose(completed, 2.5, rtol=1e-3)
    assert main([*args, "--output", str(tmp_path / "plain")]) == 0
    assert np.abs(np.load(tmp_path / "plain" / "scene.npy") - 2.5).max() > 0.1  # the network alone differs
    np.save(tmp_path / "small.npy", np.ones((10, 10), np.float32))
    assert main([*args, "--output", str(tmp_path / "bad"), "--prompt-depth", str(tmp_path / "small.npy")]) == 2
