"""Metric scale comes from the focal length (canonical camera): the same pixels seen through half
the focal length are predicted at half the depth. Plus the baselines the depth models are
measured against."""

import numpy as np
import pytest
import torch


@pytest.mark.parametrize("head_activation", ["relu", "exp"])
def test_halving_the_focal_length_halves_the_predicted_depth(tiny_model_config, head_activation):
    from ma_vlm.depth.inference import predict_metric_depth
    from ma_vlm.models.metric_anything import MetricAnythingForDepthEstimation, MetricAnythingImageProcessor

    tiny_model_config.use_prompt, tiny_model_config.head_activation = False, head_activation
    torch.manual_seed(0)
    model = MetricAnythingForDepthEstimation(tiny_model_config).eval()
    with torch.no_grad():  # a non-constant head, so the check covers every pixel's own value
        model.head[-2].weight.normal_(0.0, 0.05)
    image = (np.random.default_rng(0).random((90, 120, 3)) * 255).astype(np.uint8)
    processor = MetricAnythingImageProcessor(size=tiny_model_config.image_size)
    with torch.inference_mode():
        full = predict_metric_depth(model, processor, image, 200.0)
        half = predict_metric_depth(model, processor, image, 100.0)
    assert full.shape == (90, 120) and np.ptp(full) > 0
    np.testing.assert_allclose(half, 0.5 * full, rtol=1e-5)


def test_median_oracle_predicts_the_true_median_and_lowres_prompts_are_block_means():
    from ma_vlm.benchmarks.depth.baselines import MedianOracle
    from ma_vlm.data.sparse_prompts import parse_prompt_spec

    depth = np.arange(1, 65, dtype=np.float32).reshape(8, 8)
    depth[0, 0] = 0.0  # invalid
    predicted = MedianOracle()(None, None, None, ground_truth=depth)
    assert predicted.shape == depth.shape and np.all(predicted == np.median(depth[depth > 0]))
    prompt = parse_prompt_spec("lowres:4")(depth)
    assert np.count_nonzero(prompt) == 4
    assert prompt[2, 2] == depth[:4, :4][depth[:4, :4] > 0].mean()  # block mean over valid pixels
    assert prompt[6, 6] == depth[4:, 4:].mean()


def test_delaunay_densifier_equals_linear_interpolation_and_is_exact_on_a_plane():
    from ma_vlm.benchmarks.depth.baselines import InterpolationBaseline
    from ma_vlm.models.metric_anything.prompt_fusion import densify_prompt_delaunay

    rows, cols = np.mgrid[0:40, 0:50]
    inverse = 0.2 + 0.01 * rows + 0.004 * cols  # a plane: inverse depth is affine in pixels
    keep = np.random.default_rng(0).random(inverse.shape) < 0.02
    sparse = np.where(keep, inverse, 0.0)
    dense, support = densify_prompt_delaunay(torch.tensor(sparse)[None, None].float(),
                                             torch.tensor(keep)[None, None].float())
    baseline = InterpolationBaseline("linear")(None, None, sparse.astype(np.float32))
    hull = _inside_hull(keep)  # outside it both take the nearest prompt pixel (ties may differ)
    np.testing.assert_allclose(dense[0, 0].numpy()[hull], baseline[hull], rtol=1e-5)
    np.testing.assert_allclose(dense[0, 0].numpy()[hull], inverse[hull], rtol=1e-5)
    assert torch.all(support[0, 0][torch.tensor(keep)] == 1) and torch.all(support > 0)


def _inside_hull(keep):
    from scipy.spatial import Delaunay

    points = np.argwhere(keep)
    grid = np.argwhere(np.ones_like(keep))
    return (Delaunay(points).find_simplex(grid) >= 0).reshape(keep.shape)
