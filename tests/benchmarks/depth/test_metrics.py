"""Depth metrics equal hand-computed values and follow the benchmark protocols."""

import math

import numpy as np
import pytest

from ma_vlm.benchmarks.depth.metrics import PROTOCOLS, EvalProtocol, crop_mask, depth_metrics, mean_metrics
from ma_vlm.errors import MaVlmInputError


def test_metrics_of_four_pixels_match_hand_computation():
    gt = np.array([[2.0, 2.0, 2.0, 2.0]])
    predicted = np.array([[2.0, 2.4, 3.0, 3.8]])  # ratios 1, 1.2, 1.5, 1.9
    m = depth_metrics(predicted, gt)
    assert m["abs_rel"] == pytest.approx((0 + 0.4 + 1.0 + 1.8) / 2 / 4)  # 0.4
    assert m["sq_rel"] == pytest.approx((0 + 0.16 + 1.0 + 3.24) / 2 / 4)  # 0.55
    assert m["rmse"] == pytest.approx(math.sqrt((0 + 0.16 + 1.0 + 3.24) / 4))
    logs = [0.0, math.log(1.2), math.log(1.5), math.log(1.9)]
    assert m["rmse_log"] == pytest.approx(math.sqrt(sum(v * v for v in logs) / 4))
    assert m["log10"] == pytest.approx(sum(v / math.log(10) for v in logs) / 4)
    assert (m["delta1"], m["delta2"], m["delta3"]) == (0.5, 0.75, 1.0)  # 1.25, 1.5625, 1.953


def test_invalid_and_out_of_range_ground_truth_is_ignored_and_predictions_are_clipped():
    gt = np.array([[0.0, 2.0, 20.0]])  # invalid, valid, beyond a 10 m cap
    predicted = np.array([[5.0, 12.0, 1.0]])  # 12 m is clipped to the 10 m cap
    m = depth_metrics(predicted, gt, EvalProtocol(1e-3, 10.0, None))
    assert m["abs_rel"] == pytest.approx((10.0 - 2.0) / 2.0)
    assert depth_metrics(predicted, np.zeros((1, 3))) is None  # nothing to score


def test_dataset_score_is_the_mean_of_per_image_scores_not_of_pixels():
    perfect = depth_metrics(np.full((1, 1), 2.0), np.full((1, 1), 2.0))
    off = depth_metrics(np.full((10, 10), 3.0), np.full((10, 10), 2.0))
    assert mean_metrics([perfect, off])["abs_rel"] == pytest.approx(0.25)  # pixel pooling: ~0.495


def test_eigen_crop_on_nyu_size_and_garg_crop_on_kitti_size():
    eigen = crop_mask((480, 640), "eigen_nyu")
    rows, cols = np.nonzero(eigen.any(1))[0], np.nonzero(eigen.any(0))[0]
    assert (rows[0], rows[-1], cols[0], cols[-1]) == (45, 470, 41, 600)
    garg = crop_mask((352, 1216), "garg")
    rows, cols = np.nonzero(garg.any(1))[0], np.nonzero(garg.any(0))[0]
    assert (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1) == (143, 349, 43, 1172)
    assert PROTOCOLS["nyuv2"] == EvalProtocol(1e-3, 10.0, "eigen_nyu")
    assert PROTOCOLS["kitti"] == EvalProtocol(1e-3, 80.0, "garg")


def test_a_prediction_of_the_wrong_size_or_with_nan_is_an_input_error():
    with pytest.raises(MaVlmInputError, match="shape"):
        depth_metrics(np.ones((2, 2)), np.ones((3, 3)))
    with pytest.raises(MaVlmInputError, match="NaN"):
        depth_metrics(np.full((2, 2), np.nan), np.ones((2, 2)))
