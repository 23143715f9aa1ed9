"""How the teacher reads a sparse prompt: densification and the zero-initialised fusion gate."""

import torch

from ma_vlm.encoders import MetricAnythingForDepthEstimation
from ma_vlm.encoders.prompt_fusion import densify_prompt


def _plane(size=64):
    """Canonical inverse depth of a tilted plane: affine in pixel coordinates."""
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    return (0.2 + 0.003 * cols + 0.002 * rows).float()[None, None]


def test_densify_fills_every_pixel_from_a_regular_grid_and_keeps_a_plane():
    plane = _plane()
    valid = torch.zeros_like(plane)
    valid[..., 3::8, 5::8] = 1
    dense, support = densify_prompt(plane * valid, valid)
    relative = (dense - plane).abs() / plane
    assert (dense > 0).all()
    assert relative.mean() < 0.01 and relative[..., 8:-8, 8:-8].max() < 0.08  # borders extrapolate
    assert ((support > 0) & (support <= 1)).all()


def test_densify_is_exact_for_a_full_prompt_and_a_constant_one():
    plane = _plane(32)
    dense, support = densify_prompt(plane, torch.ones_like(plane))
    torch.testing.assert_close(dense, plane)
    assert torch.equal(support, torch.ones_like(support))
    valid = (torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0)) < 0.02).float()
    dense, _ = densify_prompt(0.7 * valid, valid)
    torch.testing.assert_close(dense, torch.full_like(dense, 0.7))


def test_densify_leaves_an_empty_prompt_empty():
    zeros = torch.zeros(2, 1, 16, 16)
    dense, support = densify_prompt(zeros, zeros)
    assert torch.equal(dense, zeros) and torch.equal(support, zeros)


def test_the_fusion_gate_starts_closed_but_learns_from_the_first_step(tiny_model_config):
    torch.manual_seed(0)
    config = tiny_model_config.__class__(**{**tiny_model_config.to_dict(), "use_prompt": True})
    teacher = MetricAnythingForDepthEstimation(config).eval()  # eval: no random RoPE rescaling
    with torch.no_grad():
        teacher.head[-2].bias.fill_(0.5)
    generator = torch.Generator().manual_seed(1)
    pixel_values = torch.randn(1, 3, 256, 256, generator=generator)
    prompt = torch.zeros(1, 1, 256, 256)
    prompt[..., ::16, ::16] = 3.0
    out = teacher(pixel_values, focal_length_px=200.0, prompt_depth=prompt)
    plain = teacher(pixel_values, focal_length_px=200.0)
    assert torch.equal(out.canonical_inverse_depth, plain.canonical_inverse_depth)  # gate closed
    # A loss that wants the prompt's depth pulls the gate open from the very first step.
    torch.log(out.predicted_depth / 3.0).pow(2).mean().backward()
    assert teacher.prompt_fusion.convolution3.weight.grad.abs().sum() > 0
