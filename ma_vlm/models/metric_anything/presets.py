"""Named sizes of the Metric Anything tower: the published one and small ones for CPU.

Every preset runs the same code path; small ones shrink widths and, except
`official-layout-tiny`, the input. `official-layout-tiny` keeps the published geometry
(1536 px input, 384 px tiles, 32 blocks, taps 7/13/19/25) with tiny widths: the layout of a
real checkpoint at a size a CPU test can run.
"""

from __future__ import annotations

from ma_vlm.errors import MaVlmInputError
from ma_vlm.models.metric_anything.configuration_metric_anything import OFFICIAL_BACKBONE, MetricAnythingConfig


def _backbone(**overrides) -> dict:
    return {**OFFICIAL_BACKBONE, **overrides}


PRESETS: dict[str, dict] = {
    # Student-DepthMap as published: ViT-H+/16, 876.66M parameters.
    "official": {},
    # Published geometry, tiny widths (for parity tests of the converter).
    "official-layout-tiny": dict(
        backbone_config=_backbone(hidden_size=32, intermediate_size=64, num_attention_heads=2, layerscale_value=1.0),
        tap_feature_dims=(16, 16, 16, 16),
        level_feature_dims=(16, 16, 32),
        decoder_hidden_size=16,
        head_hidden_size=8,
    ),
    # CPU demo size: 512 px input, 128 px tiles, 12 blocks of width 192.
    "small": dict(
        image_size=512,
        backbone_config=_backbone(
            hidden_size=192, intermediate_size=512, num_hidden_layers=12, num_attention_heads=3,
            image_size=128, layerscale_value=1.0,
        ),
        tap_layers=(2, 5, 8, 11),
        tap_feature_dims=(64, 64, 64, 64),
        level_feature_dims=(64, 64, 128),
        decoder_hidden_size=64,
        head_hidden_size=16,
    ),
    # Unit-test size: 512 px input, 128 px tiles, 4 blocks of width 32.
    "tiny": dict(
        image_size=512,
        backbone_config=_backbone(
            hidden_size=32, intermediate_size=64, num_hidden_layers=4, num_attention_heads=2,
            image_size=128, layerscale_value=1.0,
        ),
        tap_layers=(0, 1, 2, 3),
        tap_feature_dims=(16, 16, 16, 16),
        level_feature_dims=(16, 16, 32),
        decoder_hidden_size=16,
        head_hidden_size=8,
    ),
}


def preset_config(name: str, **overrides) -> MetricAnythingConfig:
    """`MetricAnythingConfig` of a named preset; keyword overrides win."""
    if name not in PRESETS:
        raise MaVlmInputError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return MetricAnythingConfig(**{**PRESETS[name], **overrides})
