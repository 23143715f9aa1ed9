"""The README.md written beside converted Student-PointMap weights: where they came from and under
which terms."""

from __future__ import annotations

from pathlib import Path


def write_pointmap_model_card(folder: Path, source: str, config) -> None:
    """Model card of a converted Student-PointMap (`MetricAnythingPointMapConfig`)."""
    backbone = config.backbone_config
    heads = ", ".join(name for name, used in (("mask", config.use_mask_head), ("normal", config.use_normal_head),
                                              ("metric scale", config.use_scale_head)) if used)
    text = f"""---
library_name: transformers
pipeline_tag: depth-estimation
tags: [metric-depth, point-map, camera-intrinsics, metric-anything, moge, ma-vlm]
---
# Metric Anything Student-PointMap (Transformers format)

Converted by `ma-vlm convert` from `{source}`.

- Architecture: `MetricAnythingForPointMapEstimation`, MoGe-2 layout on a DINOv2 ViT (width
  {backbone.hidden_size}, {backbone.num_hidden_layers} blocks, patch {backbone.patch_size}), taps
  {list(config.intermediate_layers)}, heads: points, {heads}; tokens {list(config.num_tokens_range)}.
- Load with `import ma_vlm` then `AutoModel.from_pretrained(folder)`; no `trust_remote_code`.
- Output: metric point map and depth in metres, validity mask, and the intrinsics [fx, fy, cx, cy]
  in pixels of the input image, recovered from the point map (no focal length needed).

## Provenance and licence
Weights come from the Metric Anything authors' release (paper: *MetricAnything: Scaling Metric
Depth Pretraining with Noisy Heterogeneous Sources*, arXiv 2601.22054), fine-tuned from MoGe-2
(Microsoft, MIT licence). The ViT backbone is DINOv2 (Meta, Apache-2.0). Check the authors' terms
before redistribution. The conversion code (ma-vlm) is Apache-2.0.
"""
    (folder / "README.md").write_text(text)
