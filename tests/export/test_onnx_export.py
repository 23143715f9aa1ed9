"""`ma-vlm export onnx`: export a tiny model, run the file with onnxruntime, compare with PyTorch.

The point-map network runs in CI. The depth model's export took 434 s on the shared 2-core
machine (torch.export of the pyramid with a dynamic batch, then the ONNX translation), so its
round trip runs only with MA_VLM_SLOW_TESTS=1.
"""

import json
import os

import numpy as np
import pytest
import torch

from ma_vlm.cli import main
from ma_vlm.models.metric_anything import MetricAnythingForDepthEstimation
from ma_vlm.models.metric_anything_pointmap import MetricAnythingForPointMapEstimation

onnxruntime = pytest.importorskip("onnxruntime")


def _run(path, feeds):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {name: value.numpy() for name, value in feeds.items()})


def _assert_relative(got, want, tolerance=1e-4):
    scale = max(float(np.abs(want).max()), 1e-12)
    assert float(np.abs(got - want).max()) / scale <= tolerance


def test_the_point_map_network_round_trips_through_onnxruntime(pointmap_model_dir, tmp_path):
    out = tmp_path / "onnx"
    assert main(["export", "onnx", str(pointmap_model_dir), str(out), "--height", "72", "--width", "96",
                 "--num-tokens", "64"]) == 0
    assert json.loads((out / "preprocessor_config.json").read_text())["image_mean"] == [0.485, 0.456, 0.406]
    pixel_values = torch.randn(3, 3, 72, 96, generator=torch.Generator().manual_seed(4))  # batch 3: traced at 2
    got = _run(out / "model.onnx", {"pixel_values": pixel_values})
    model = MetricAnythingForPointMapEstimation.from_pretrained(pointmap_model_dir).eval()
    with torch.no_grad():
        want = model(pixel_values, num_tokens=64)
    for value, name in zip(got, ("points", "predicted_depth", "mask", "intrinsics")):
        expected = want[name].numpy()
        assert value.shape == expected.shape, name
        if name == "mask":
            assert (value == expected).mean() > 0.999  # pixels at probability 0.5 +- rounding may flip
        else:
            _assert_relative(value, expected)


@pytest.mark.skipif(os.environ.get("MA_VLM_SLOW_TESTS") != "1", reason="the pyramid's ONNX export takes minutes")
def test_the_depth_model_round_trips_through_onnxruntime(depth_model_dir, tmp_path):
    out = tmp_path / "onnx"
    assert main(["export", "onnx", str(depth_model_dir), str(out)]) == 0
    pixel_values = torch.randn(3, 3, 512, 512, generator=torch.Generator().manual_seed(5))
    focal_length_px = torch.tensor([300.0, 450.0, 600.0])
    got = _run(out / "model.onnx", {"pixel_values": pixel_values, "focal_length_px": focal_length_px})
    model = MetricAnythingForDepthEstimation.from_pretrained(depth_model_dir).eval()
    with torch.no_grad():
        want = model(pixel_values=pixel_values, focal_length_px=focal_length_px)
    for value, name in zip(got, ("predicted_depth", "inverse_depth")):
        _assert_relative(value, want[name].numpy())
