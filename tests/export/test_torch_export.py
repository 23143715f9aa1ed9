"""torch.export of both depth models: the exported program runs a batch size it was not traced
at and gives what the eager model gives."""

import torch

from ma_vlm.export.graphs import DepthGraph, PointMapGraph, export_program
from ma_vlm.models.metric_anything import MetricAnythingForDepthEstimation
from ma_vlm.models.metric_anything_pointmap import MetricAnythingForPointMapEstimation


def test_the_depth_model_exports_with_a_focal_length_and_matches_eager(depth_model_dir):
    graph = DepthGraph(MetricAnythingForDepthEstimation.from_pretrained(depth_model_dir))
    program = export_program(graph, batch=2)
    pixel_values = torch.randn(3, 3, 512, 512, generator=torch.Generator().manual_seed(1))
    focal_length_px = torch.tensor([300.0, 450.0, 600.0])
    with torch.no_grad():
        eager = graph(pixel_values, focal_length_px)
        exported = program.module()(pixel_values, focal_length_px)
    for name, want, got in zip(("predicted_depth", "inverse_depth"), eager, exported):
        assert got.shape == (3, 512, 512), name
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6, msg=name)
    # metric depth scales with the focal length: the input is live in the graph, not a constant
    torch.testing.assert_close(exported[0][2] / exported[0][0], torch.full((512, 512), 2.0), rtol=1e-5, atol=0)


def test_the_point_map_model_exports_with_its_camera_fit_and_matches_eager(pointmap_model_dir):
    model = MetricAnythingForPointMapEstimation.from_pretrained(pointmap_model_dir)
    graph = PointMapGraph(model, height=72, width=96, num_tokens=64)
    program = export_program(graph, batch=2)
    pixel_values = torch.randn(3, 3, 72, 96, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        eager = graph(pixel_values)
        exported = program.module()(pixel_values)
    names = ("points", "predicted_depth", "mask", "intrinsics")
    for name, want, got in zip(names, eager, exported):
        assert got.shape == want.shape and got.dtype == want.dtype, name
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6, msg=name)
    assert exported[3][:, 0].min() > 0  # a recovered focal length, in pixels
