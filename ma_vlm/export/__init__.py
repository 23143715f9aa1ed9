"""Serving graphs of the depth models: `torch.export` programs and ONNX files (`ma-vlm export onnx`)."""
