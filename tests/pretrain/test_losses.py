"""The losses equal hand-computed values and respect validity masks."""

import math

import pytest
import torch

from ma_vlm.pretrain.losses import DepthLoss, gradient_matching_loss, scale_aware_log_loss


def _inverse(depth_m):
    return 1.0 / torch.tensor(depth_m)


def test_silog_of_a_uniform_scale_error_is_only_the_metric_term():
    gt = torch.tensor([[[1.0, 2.0], [4.0, 8.0]]])
    predicted_inverse = _inverse([[[2.0, 4.0], [8.0, 16.0]]])  # every depth 2x too far
    r = math.log(2.0)
    expected = math.sqrt(r**2 - 0.85 * r**2)  # mean(r^2) - lambda mean(r)^2, all r equal
    value = scale_aware_log_loss(predicted_inverse, gt, gt > 0, variance_focus=0.85, eps=0.0)
    assert value.item() == pytest.approx(expected, rel=1e-6)
    assert scale_aware_log_loss(predicted_inverse, gt, gt > 0, variance_focus=1.0, eps=0.0).item() == pytest.approx(0.0, abs=1e-6)


def test_silog_ignores_invalid_pixels_and_images_without_any():
    gt = torch.tensor([[[2.0, 0.0], [2.0, 2.0]], [[0.0, 0.0], [0.0, 0.0]]])  # image 2: no valid pixel
    predicted = torch.tensor([[[2.0, 123.0], [2.0, 4.0]], [[5.0, 5.0], [5.0, 5.0]]])
    residuals = [0.0, 0.0, math.log(2.0)]
    mean = sum(residuals) / 3
    mean_sq = sum(r * r for r in residuals) / 3
    expected = math.sqrt(mean_sq - 0.5 * mean**2)
    value = scale_aware_log_loss(1.0 / predicted, gt, gt > 0, variance_focus=0.5, eps=0.0)
    assert value.item() == pytest.approx(expected, rel=1e-6)


def test_gradient_matching_counts_only_pairs_of_valid_pixels():
    gt = torch.ones(1, 2, 3)
    predicted = torch.tensor([[[1.0, math.e, 1.0], [1.0, 1.0, 1.0]]])  # log residual 1 at (0, 1)
    valid = torch.tensor([[[True, True, False], [True, True, True]]])
    # scale 0: x pairs (0,0)-(0,1): |1|, (1,0)-(1,1): 0, (1,1)-(1,2): 0 -> 3 pairs;
    #          y pairs (0,0)-(1,0): 0, (0,1)-(1,1): |1| -> 2 pairs; total 2 / 5.
    # scale 1 keeps pixels (0,0), (0,2) -> no valid pair; scale counted as 0.
    value = gradient_matching_loss(1.0 / predicted, gt, valid, num_scales=2)
    assert value.item() == pytest.approx((2 / 5 + 0.0) / 2, rel=1e-6)


def test_depth_loss_is_zero_for_a_perfect_prediction_and_has_gradients():
    gt = torch.rand(2, 1, 8, 8) * 5 + 0.5
    inverse = (1.0 / gt).clone().requires_grad_(True)
    out = DepthLoss()(inverse, gt, gt > 0)
    assert out["loss"].item() == pytest.approx(0.0, abs=1e-3)  # sqrt(eps) of SILog
    wrong = (0.5 / gt).clone().requires_grad_(True)
    loss = DepthLoss()(wrong, gt, gt > 0)["loss"]
    loss.backward()
    assert loss.item() > 0.2 and wrong.grad.abs().sum() > 0


def test_a_head_stuck_below_its_final_relu_still_gets_a_gradient(tiny_model_config):
    """All predictions at the ReLU's 0: the depth loss alone has no gradient; the floor term does."""
    from ma_vlm.models.metric_anything import MetricAnythingForDepthEstimation
    from ma_vlm.pretrain.distill import training_losses

    torch.manual_seed(0)
    model = MetricAnythingForDepthEstimation(tiny_model_config)
    with torch.no_grad():
        model.head[-2].bias.fill_(-10.0)  # every pre-activation far below 0
    batch = {"pixel_values": torch.randn(1, 3, 256, 256), "focal_length_px": torch.tensor([200.0]),
             "depth": torch.full((1, 1, 256, 256), 2.0), "valid_mask": torch.ones(1, 1, 256, 256, dtype=torch.bool),
             "prompt_depth": torch.zeros(1, 1, 256, 256)}
    losses = training_losses(model, batch, DepthLoss())
    losses["loss"].backward()
    assert model.head[-2].bias.grad.item() < 0  # gradient descent raises the bias back above 0
