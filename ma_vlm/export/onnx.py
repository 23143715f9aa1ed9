"""ONNX files of the depth models, with the image processor's settings beside them.

OUT_DIR/model.onnx (the graph of `ma_vlm.export.graphs`, dynamic batch, image side fixed) and
OUT_DIR/preprocessor_config.json (the processor that prepares its `pixel_values`).
"""

from __future__ import annotations

from pathlib import Path

import torch

from ma_vlm.errors import MaVlmInputError
from ma_vlm.export.graphs import DEPTH_INPUTS, DEPTH_OUTPUTS, POINTMAP_INPUTS, POINTMAP_OUTPUTS, PointMapGraph
from ma_vlm.export.graphs import dynamic_batch as dynamic_batch_shapes

ONNX_FILE = "model.onnx"


def check_out_dir(out_dir: str | Path) -> Path:
    """OUT_DIR must be a new or empty folder: an export never mixes with other files."""
    path = Path(out_dir)
    if path.exists() and not path.is_dir():
        raise MaVlmInputError(f"OUT_DIR {path} is a file; give a new or empty folder for the ONNX graph")
    if path.is_dir() and any(path.iterdir()):
        raise MaVlmInputError(f"OUT_DIR {path} is not empty; give a new or empty folder for the ONNX graph")
    return path


def export_onnx(graph, processor, out_dir: str | Path) -> Path:
    """Write OUT_DIR/model.onnx (dynamo exporter, dynamic batch) and the processor's settings."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pointmap = isinstance(graph, PointMapGraph)
    inputs, outputs = (POINTMAP_INPUTS, POINTMAP_OUTPUTS) if pointmap else (DEPTH_INPUTS, DEPTH_OUTPUTS)
    with torch.no_grad():
        torch.onnx.export(graph, graph.example_inputs(2), out_dir / ONNX_FILE, dynamo=True,
                          dynamic_shapes=dynamic_batch_shapes(graph), input_names=list(inputs),
                          output_names=list(outputs), external_data=False)
    processor.save_pretrained(out_dir)
    return out_dir / ONNX_FILE
