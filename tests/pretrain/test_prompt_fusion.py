"""How the teacher reads a sparse prompt: densification and the zero-initialised fusion gate."""

import pytest
import torch

from ma_vlm.errors import MaVlmInputError
from ma_vlm.models.metric_anything import MetricAnythingForDepthEstimation
from ma_vlm.models.metric_anything.prompt_fusion import densify_prompt


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


def test_a_bf16_teacher_reads_a_float32_prompt(tiny_model_config):
    """DeepSpeed's bf16 (the GPU recipes) and a bf16 load keep the weights in bf16 while the batch
    stays float32; the fusion gate's convolutions once failed there ("Input type (float) and bias
    type (c10::BFloat16) should be the same"), found on the first GPU run of the full recipe."""
    torch.manual_seed(0)
    config = tiny_model_config.__class__(**{**tiny_model_config.to_dict(), "use_prompt": True})
    teacher = MetricAnythingForDepthEstimation(config).eval()
    with torch.no_grad():
        teacher.head[-2].bias.fill_(0.5)
        teacher.prompt_fusion.convolution3.weight.normal_(0, 0.1)  # an open gate: the convolutions run
    pixel_values = torch.randn(1, 3, 256, 256, generator=torch.Generator().manual_seed(1))
    prompt = torch.zeros(1, 1, 256, 256)
    prompt[..., ::16, ::16] = 3.0
    reference = teacher(pixel_values, focal_length_px=200.0, prompt_depth=prompt).predicted_depth
    half = teacher.to(torch.bfloat16)(pixel_values, focal_length_px=200.0, prompt_depth=prompt).predicted_depth
    assert half.dtype == torch.float32 and torch.isfinite(half).all()
    assert ((half - reference).abs() / reference).mean() < 0.05


def test_residual_alignment_puts_the_network_shape_onto_the_prompt_scale(tiny_model_config):
    """`prompt_alignment: residual`: with 8 prompt points and the gate closed, the teacher's output
    equals the prompt on its pixels and is the network's own prediction times one factor elsewhere
    (the prompt sets the scale, the image the shape)."""
    torch.manual_seed(0)
    values = {**tiny_model_config.to_dict(), "use_prompt": True, "prompt_alignment": "residual",
              "prompt_densifier": "delaunay"}
    teacher = MetricAnythingForDepthEstimation(tiny_model_config.__class__(**values)).eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # a network whose prediction varies over the image
        teacher.head[-2].weight.normal_(0, 0.05, generator=generator)
        teacher.head[-2].bias.fill_(0.5)
    pixel_values = torch.randn(1, 3, 256, 256, generator=generator)
    plain = teacher(pixel_values, focal_length_px=200.0).predicted_depth[0]
    prompt = torch.zeros(1, 1, 256, 256)
    rows, cols = torch.tensor([20, 40, 90, 130, 170, 200, 230, 250]), torch.tensor([10, 200, 60, 128, 30, 240, 90, 170])
    prompt[0, 0, rows, cols] = 2.5 * plain[rows, cols]  # the right shape, 2.5x the scale
    aligned = teacher(pixel_values, focal_length_px=200.0, prompt_depth=prompt).predicted_depth[0]
    torch.testing.assert_close(aligned[rows, cols], prompt[0, 0, rows, cols], rtol=1e-4, atol=0)
    torch.testing.assert_close(aligned, 2.5 * plain, rtol=1e-4, atol=0)
    with pytest.raises(MaVlmInputError, match="prompt_alignment"):
        MetricAnythingForDepthEstimation(tiny_model_config.__class__(**{**values, "prompt_alignment": "global"}))


def test_the_delaunay_plan_is_scipys_linear_interpolation_and_passes_gradients():
    """`DelaunayPlan` (one triangulation, applied with torch) gives what `baseline:linear` gives:
    scipy's piecewise-linear interpolant, nearest prompt pixel outside the hull; and the values
    keep their gradient (the residual alignment trains through it)."""
    import numpy as np
    from scipy.interpolate import griddata

    from ma_vlm.models.metric_anything.prompt_fusion import DelaunayPlan

    generator = torch.Generator().manual_seed(0)
    valid = (torch.rand(2, 1, 40, 48, generator=generator) < 0.02).float()
    valid[1, 0, 5, :] = 1.0  # a scan line plus a few points
    values = (torch.rand(2, 1, 40, 48, generator=generator) + 0.5).requires_grad_(True)
    dense = DelaunayPlan(valid).apply(values * valid)
    for image in range(2):
        rows, cols = np.nonzero(valid[image, 0].numpy())
        points, samples = np.stack([rows, cols], 1), values.detach()[image, 0].numpy()[rows, cols]
        grid = tuple(np.mgrid[0:40, 0:48])
        linear = griddata(points, samples, grid, method="linear")
        ours, inside = dense[image, 0].detach().numpy(), np.isfinite(linear)
        np.testing.assert_allclose(ours[inside], linear[inside], rtol=1e-5, atol=1e-6)
        # Outside the hull: the value of a nearest prompt pixel (ties may pick either one).
        pixels = np.stack(np.nonzero(~inside), 1)
        distances = np.linalg.norm(pixels[:, None] - points[None], axis=-1)
        nearest = np.isclose(distances, distances.min(1, keepdims=True))
        assert all(np.isclose(samples[nearest[k]], ours[tuple(p)]).any() for k, p in enumerate(pixels))
    dense.sum().backward()
    assert values.grad[valid == 0].abs().max() == 0 and values.grad[valid > 0].min() > 0


def test_alignment_at_the_image_resolution_makes_a_dense_prompt_exact():
    """After the network-size depth is resized back, `align_depth_to_prompt` puts it onto the
    prompt again: exact on prompt pixels, the prediction's shape times the interpolated ratio
    in between, untouched without a prompt."""
    from ma_vlm.models.metric_anything.prompt_fusion import align_depth_to_prompt

    rows, cols = torch.meshgrid(torch.arange(60.0), torch.arange(80.0), indexing="ij")
    predicted = 2.0 + 0.01 * cols + 0.5 * (rows > 30)  # a step edge
    truth = 1.5 * predicted
    prompt = torch.zeros_like(truth)
    prompt[::4, :] = truth[::4, :]  # LiDAR-like lines
    aligned = align_depth_to_prompt(predicted, prompt)
    torch.testing.assert_close(aligned[::4], truth[::4])
    torch.testing.assert_close(aligned, truth)  # a constant factor is recovered everywhere
    assert torch.equal(align_depth_to_prompt(predicted, torch.zeros_like(prompt)), predicted)
