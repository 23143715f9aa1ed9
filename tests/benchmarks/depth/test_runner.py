"""``ma-vlm eval depth`` scores a predictor; the interpolation baseline is the reference."""

import json

import numpy as np
import pytest
from PIL import Image

from ma_vlm.benchmarks.depth.baselines import InterpolationBaseline
from ma_vlm.benchmarks.depth.readers import open_depth_benchmark
from ma_vlm.benchmarks.depth.runner import evaluate_depth
from ma_vlm.cli import main
from ma_vlm.errors import MaVlmInputError


def _write_folder(root, count=2, height=24, width=32):
    """Depth ramps 1 + 0.05 u + 0.1 v metres (+ a per-image offset) in millimetre PNGs."""
    v, u = np.mgrid[0:height, 0:width]
    for i in range(count):
        depth_m = 1.0 + 0.05 * u + 0.1 * v + i
        Image.fromarray(np.full((height, width, 3), 120, np.uint8)).save(root / f"img{i}.png")
        Image.fromarray(np.round(depth_m * 1000).astype(np.uint16)).save(root / f"img{i}_depth.png")
        (root / f"img{i}.json").write_text(json.dumps({"cam_in": [30.0, 30.0, 15.5, 11.5]}))


def test_linear_interpolation_of_a_grid_prompt_recovers_a_depth_ramp(tmp_path):
    _write_folder(tmp_path)
    benchmark = open_depth_benchmark(tmp_path)
    linear = evaluate_depth(InterpolationBaseline("linear"), benchmark, "grid:4", progress=False)
    nearest = evaluate_depth(InterpolationBaseline("nearest"), benchmark, "grid:4", progress=False)

    assert linear["num_images"] == 2 and len(linear["per_image"]) == 2
    assert linear["metrics"]["abs_rel"] < 0.01  # exact inside the prompt's hull
    assert nearest["metrics"]["abs_rel"] > linear["metrics"]["abs_rel"]
    assert linear["metrics"]["delta1"] > 0.99  # only corners outside the hull miss


def test_eval_depth_cli_writes_a_report(tmp_path):
    (tmp_path / "bench").mkdir()
    _write_folder(tmp_path / "bench")
    output = tmp_path / "report.json"
    code = main(["eval", "depth", "--model", "baseline:nearest", "--data", str(tmp_path / "bench"),
                 "--prompt", "uniform:0.05", "--output", str(output), "--seed", "3"])
    report = json.loads(output.read_text())
    assert code == 0 and report["model"] == "baseline:nearest" and report["prompt"] == "uniform:0.05"
    assert report["num_images"] == 2 and 0 < report["metrics"]["abs_rel"] < 0.2
    assert set(report["metrics"]) == {"abs_rel", "sq_rel", "rmse", "rmse_log", "log10",
                                      "delta1", "delta2", "delta3", "abs_rel_median_scaled"}
    again = tmp_path / "again.json"
    main(["eval", "depth", "--model", "baseline:nearest", "--data", str(tmp_path / "bench"),
          "--prompt", "uniform:0.05", "--output", str(again), "--seed", "3"])
    assert json.loads(again.read_text())["metrics"] == report["metrics"]  # seeded prompts


def test_baseline_without_a_prompt_and_unknown_model_are_input_errors(tmp_path, capsys):
    _write_folder(tmp_path)
    with pytest.raises(MaVlmInputError, match="needs a prompt"):
        evaluate_depth(InterpolationBaseline("linear"), open_depth_benchmark(tmp_path), None, progress=False)
    assert main(["eval", "depth", "--model", "no/such/dir", "--data", str(tmp_path),
                 "--output", str(tmp_path / "r.json")]) == 2
    assert "neither baseline" in capsys.readouterr().err


def test_any_callable_is_a_predictor(tmp_path):
    _write_folder(tmp_path, count=1)
    seen = {}

    def predict(image, intrinsics, prompt_depth):
        seen.update(shape=image.shape, intrinsics=intrinsics, prompt=prompt_depth)
        return np.full(image.shape[:2], 2.0, np.float32)

    report = evaluate_depth(predict, open_depth_benchmark(tmp_path), None, progress=False)
    assert seen == {"shape": (24, 32, 3), "intrinsics": [30.0, 30.0, 15.5, 11.5], "prompt": None}
    assert report["metrics"]["delta3"] < 1.0


def test_kitti_sensor_prompt_uses_the_benchmarks_own_lidar(kitti_selection, tmp_path):
    output = tmp_path / "kitti.json"
    assert main(["eval", "depth", "--model", "baseline:nearest", "--data", str(kitti_selection),
                 "--prompt", "sensor", "--crop", "none", "--output", str(output)]) == 0
    report = json.loads(output.read_text())
    # The one LiDAR return (7 m) fills the image: errors vs 10.5 m and 12 m ground truth.
    expected = ((10.5 - 7) / 10.5 + (12 - 7) / 12) / 2
    assert report["metrics"]["abs_rel"] == pytest.approx(expected)
    assert report["protocol"]["max_depth_m"] == 80.0 and report["protocol"]["crop"] is None


@pytest.mark.parametrize("use_prompt, prompt", [(False, "none"), (True, "grid:8")])
def test_eval_depth_runs_a_saved_metric_anything_model_folder(tmp_path, use_prompt, prompt):
    import torch

    from ma_vlm.models.metric_anything import (
        MetricAnythingForDepthEstimation,
        MetricAnythingImageProcessor,
        preset_config,
    )

    torch.manual_seed(0)
    model_dir = tmp_path / "model"
    MetricAnythingForDepthEstimation(preset_config("tiny", use_prompt=use_prompt)).save_pretrained(model_dir)
    MetricAnythingImageProcessor(size=512).save_pretrained(model_dir)
    (tmp_path / "bench").mkdir()
    _write_folder(tmp_path / "bench", count=1, height=48, width=64)

    output = tmp_path / "report.json"
    assert main(["eval", "depth", "--model", str(model_dir), "--data", str(tmp_path / "bench"),
                 "--prompt", prompt, "--output", str(output)]) == 0
    report = json.loads(output.read_text())  # random weights: the numbers only need to exist
    assert report["num_images"] == 1 and report["prompt"] == prompt
    assert all(np.isfinite(v) for v in report["metrics"].values())


def test_eval_depth_metrics_equal_hand_computed_values(tmp_path):
    """Ground truth 1 m on the left half, 3 m on the right; the model says 2 m everywhere."""
    gt = np.full((32, 32), 1000, np.uint16)
    gt[:, 16:] = 3000
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(gt).save(tmp_path / "a_depth.png")
    (tmp_path / "a.json").write_text(json.dumps({"cam_in": [30.0, 30.0, 15.5, 15.5]}))

    report = evaluate_depth(lambda image, intrinsics, prompt: np.full((32, 32), 2.0, np.float32),
                            open_depth_benchmark(tmp_path), None, progress=False)
    # |2 - 1| / 1 = 1 and |2 - 3| / 3 = 1/3 on equal halves; ratios 2 and 1.5
    expected = {"abs_rel": (1 + 1 / 3) / 2, "sq_rel": (1 + 1 / 3) / 2, "rmse": 1.0,
                "rmse_log": np.sqrt((np.log(2) ** 2 + np.log(1.5) ** 2) / 2),
                "log10": (np.log10(2) + np.log10(1.5)) / 2, "delta1": 0.0, "delta2": 0.5, "delta3": 0.5,
                "abs_rel_median_scaled": (1 + 1 / 3) / 2}  # median(gt) = 2 m: already aligned
    assert report["metrics"] == pytest.approx(expected, rel=1e-5)
