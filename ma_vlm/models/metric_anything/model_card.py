"""The README.md written beside converted weights: where they came from and under which terms."""

from __future__ import annotations

from pathlib import Path

from ma_vlm.models.metric_anything.configuration_metric_anything import MetricAnythingConfig


def write_model_card(folder: Path, source: str, config: MetricAnythingConfig) -> None:
    backbone = config.backbone_config
    text = f"""---
library_name: transformers
pipeline_tag: depth-estimation
tags: [metric-depth, metric-anything, ma-vlm]
---
# Metric Anything Student-DepthMap (Transformers format)

Converted by `ma-vlm convert` from `{source}`.

- Architecture: `MetricAnythingForDepthEstimation` ({backbone.model_type} ViT, width {backbone.hidden_size},
  {backbone.num_hidden_layers} blocks, {backbone.num_attention_heads} heads, patch {backbone.patch_size}),
  pyramid input {config.image_size} px, {config.tile_size} px tiles, taps {list(config.tap_layers)}.
- Load with `import ma_vlm` then `AutoModelForDepthEstimation.from_pretrained(folder)`; no
  `trust_remote_code` needed.
- Output: canonical inverse depth; metric depth in metres needs the focal length in pixels.

## Provenance and licence
Weights come from the Metric Anything authors' release (paper: *MetricAnything: Scaling Metric
Depth Pretraining with Noisy Heterogeneous Sources*, arXiv 2601.22054). The ViT backbone is a DINOv3
model and carries Meta's DINOv3 licence; the authors' model cards state Apache-2.0 for their
weights. Check both before redistribution. The conversion code (ma-vlm) is Apache-2.0.
"""
    (folder / "README.md").write_text(text)
