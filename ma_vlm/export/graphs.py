"""The depth models as graphs with tensor inputs and outputs only, for `torch.export` and ONNX.

`DepthGraph`: a prompt-free `MetricAnythingForDepthEstimation` with a focal length input.
`PointMapGraph`: `MetricAnythingForPointMapEstimation` with its camera recovered in the graph.
Both take a dynamic batch. The depth model's image side is fixed (the pyramid cuts
`config.image_size` px into fixed tiles); the point-map model's token grid is rounded from the
image's aspect ratio (`token_grid`), so its graph is traced at one (H, W) as well.

Inputs are checked here, before tracing, and by the processor at serving time: a traced graph
has no branch on values (`geometry.check_intrinsics`).
"""

from __future__ import annotations

import torch
from torch import nn

from ma_vlm.errors import MaVlmInputError

DEPTH_INPUTS = ("pixel_values", "focal_length_px")
DEPTH_OUTPUTS = ("predicted_depth", "inverse_depth")
POINTMAP_INPUTS = ("pixel_values",)
POINTMAP_OUTPUTS = ("points", "predicted_depth", "mask", "intrinsics")
MAX_BATCH = 1024


class DepthGraph(nn.Module):
    """pixel_values (B, 3, S, S) ImageNet-normalised, focal_length_px (B,) pixels of `pixel_values`
    -> predicted_depth (B, S, S) metres, inverse_depth (B, S, S) 1/m (before clamping)."""

    def __init__(self, model):
        super().__init__()
        if getattr(model.config, "use_prompt", False):
            raise MaVlmInputError("this is a teacher (config use_prompt=True); export a prompt-free student, or load "
                                  "it with from_pretrained(path, use_prompt=False)")
        self.model = model.eval()

    def forward(self, pixel_values: torch.Tensor, focal_length_px: torch.Tensor):
        outputs = self.model(pixel_values=pixel_values, focal_length_px=focal_length_px, return_dict=True)
        return outputs.predicted_depth, outputs.inverse_depth

    def example_inputs(self, batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        size = self.model.config.image_size
        return torch.zeros(batch, 3, size, size), torch.full((batch,), float(size))


class PointMapGraph(nn.Module):
    """pixel_values (B, 3, H, W) ImageNet-normalised -> points (B, H, W, 3) metres, predicted_depth
    (B, H, W) metres, mask (B, H, W) bool, intrinsics (B, 4) [fx, fy, cx, cy] pixels.

    num_tokens: the ViT's token budget (default: the model's at `resolution_level` 9)."""

    def __init__(self, model, height: int, width: int, num_tokens: int | None = None):
        super().__init__()
        if model.config.camera_solver == "published":
            raise MaVlmInputError("camera_solver 'published' runs SciPy outside the graph; export with the "
                                  "default solver (from_pretrained(path, camera_solver='exact'))")
        self.model = model.eval()
        self.height, self.width = int(height), int(width)
        self.num_tokens = int(num_tokens if num_tokens is not None else model.config.num_tokens_for(9))

    def forward(self, pixel_values: torch.Tensor):
        outputs = self.model(pixel_values=pixel_values, num_tokens=self.num_tokens)
        return outputs.points, outputs.predicted_depth, outputs.mask, outputs.intrinsics

    def example_inputs(self, batch: int = 1) -> tuple[torch.Tensor]:
        return (torch.zeros(batch, 3, self.height, self.width),)


def graph_for(model, height: int | None = None, width: int | None = None, num_tokens: int | None = None) -> nn.Module:
    """`DepthGraph` or `PointMapGraph` of a loaded model (the point map at height x width px)."""
    if model.config.model_type == "metric_anything_pointmap":
        if height is None or width is None:
            raise MaVlmInputError("a point-map graph is traced at one image size: give its height and width in px")
        return PointMapGraph(model, height, width, num_tokens)
    return DepthGraph(model)


def dynamic_batch(graph: nn.Module) -> dict:
    """`dynamic_shapes` for torch.export: the batch axis of every input is free."""
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    names = POINTMAP_INPUTS if isinstance(graph, PointMapGraph) else DEPTH_INPUTS
    return {name: {0: batch} for name in names}


def export_program(graph: nn.Module, batch: int = 2) -> torch.export.ExportedProgram:
    """`torch.export.export` of a graph with a dynamic batch (traced on `batch` example images)."""
    with torch.no_grad():
        return torch.export.export(graph, graph.example_inputs(batch), dynamic_shapes=dynamic_batch(graph))


__all__ = ["DepthGraph", "PointMapGraph", "graph_for", "export_program", "dynamic_batch"]
