"""Teacher and student share one folder layout; an open fusion gate hands depth to the prompt."""

import torch

from ma_vlm.models.metric_anything import MetricAnythingForDepthEstimation, preset_config


def tiny_teacher():
    torch.manual_seed(0)
    teacher = MetricAnythingForDepthEstimation(preset_config("tiny", use_prompt=True)).eval()
    with torch.no_grad():  # a head that predicts positive canonical inverse depth
        teacher.head[12].weight.abs_().mul_(0.05)
        teacher.head[12].bias.fill_(0.5)
    return teacher


def test_a_teacher_with_the_gate_open_follows_its_prompt():
    teacher = tiny_teacher()
    rows = torch.linspace(1.5, 3.0, 512).view(512, 1).expand(512, 512)
    prompt = rows[None, None].clone()  # a dense prompt: a floor receding from 1.5 m to 3 m
    pixel_values = torch.randn(1, 3, 512, 512)
    with torch.no_grad():
        closed = teacher(pixel_values, focal_length_px=400.0, prompt_depth=prompt).predicted_depth
        gate = teacher.prompt_fusion.convolution3
        gate.weight.zero_()
        gate.bias.fill_(20.0)  # tanh(20) = 1: the gate fully open everywhere
        opened = teacher(pixel_values, focal_length_px=400.0, prompt_depth=prompt).predicted_depth
    assert (closed[0] - rows).abs().max() > 0.1  # closed, the network's own depth
    torch.testing.assert_close(opened[0], rows, rtol=1e-4, atol=1e-4)


def test_a_student_built_from_a_teacher_folder_reports_no_unexpected_keys(tmp_path):
    tiny_teacher().save_pretrained(tmp_path)
    student, info = MetricAnythingForDepthEstimation.from_pretrained(tmp_path, use_prompt=False,
                                                                     output_loading_info=True)
    assert not student.config.use_prompt and student.prompt_fusion is None
    assert info["unexpected_keys"] == set() and info["missing_keys"] == set()


def test_a_depth_folder_loads_into_the_bare_tower_without_an_unexpected_keys_report(tmp_path):
    """An MLLM takes the tower of a teacher or student folder: the depth parts stay behind quietly."""
    from ma_vlm.models.metric_anything import MetricAnythingModel

    tiny_teacher().save_pretrained(tmp_path)
    tower, info = MetricAnythingModel.from_pretrained(tmp_path, output_loading_info=True)
    assert info["unexpected_keys"] == set() and info["missing_keys"] == set()
    assert not any(name.startswith(("neck", "decoder", "head")) for name, _ in tower.named_parameters())
