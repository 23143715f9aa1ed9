"""`ma-vlm eval pointmap`: intrinsics and point-map scores on folders with cam_in and rendered data."""

import json

import numpy as np
import pytest

from ma_vlm.cli import main
from ma_vlm.pointmap.evaluate import align_points, point_metrics


def test_alignments_undo_what_they_claim_to():
    gt = np.random.default_rng(0).random((100, 3)) + [0, 0, 2]
    assert point_metrics(gt, gt)["point_rel_metric"] == 0
    scores = point_metrics(1.7 * gt, gt)
    assert scores["point_rel_metric"] == pytest.approx(0.7) and scores["point_rel_scale"] < 1e-12
    np.testing.assert_allclose(align_points(0.5 * gt + [0.1, -0.2, 0.3], gt, "affine"), gt, atol=1e-12)


def test_baseline_focal_error_is_exact_on_known_cameras(tmp_path, multiview_dir):
    assert main(["eval", "pointmap", "--model", "baseline:fov60", "--data", str(multiview_dir),
                 "--output", str(tmp_path / "report.json")]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    true_focal = 48 / np.tan(np.radians(35))  # multiview-data renders a 70-degree camera, 96 px wide
    baseline_focal = 48 / np.tan(np.radians(30))
    assert report["metrics"]["focal_rel_error"] == pytest.approx(abs(baseline_focal / true_focal - 1), rel=1e-6)
    assert report["metrics"]["principal_point_error_px"] == pytest.approx(0, abs=1e-9)


def test_model_scores_points_and_depth(tmp_path, multiview_dir, pointmap_model_dir, capsys):
    assert main(["eval", "pointmap", "--model", str(pointmap_model_dir), "--data", str(multiview_dir),
                 "--output", str(tmp_path / "report.json"), "--num-tokens", "64", "--limit", "2"]) == 0
    metrics = json.loads((tmp_path / "report.json").read_text())["metrics"]
    for name in ("point_rel_metric", "point_rel_scale", "point_rel_affine", "depth_abs_rel_metric",
                 "depth_delta1_scale", "focal_rel_error"):
        assert np.isfinite(metrics[name])
    assert "focal error" in capsys.readouterr().out
