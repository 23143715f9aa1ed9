"""Named sizes of the point-map model: the published Student-PointMap and tiny ones for CPU tests.

Every preset runs the same code path. `tiny` shrinks every width and the token budget; its
layout (4 taps, 5 levels, the published resamplers, mask and scale heads, `exp` remap) is the
published one.
"""

from __future__ import annotations

from ma_vlm.errors import MaVlmInputError
from ma_vlm.models.metric_anything_pointmap.configuration_metric_anything_pointmap import (
    OFFICIAL_POINTMAP_BACKBONE,
    MetricAnythingPointMapConfig,
)

POINTMAP_PRESETS: dict[str, dict] = {
    # Student-PointMap as published (MoGe-2 ViT-L/14 layout).
    "official": {},
    # Unit-test / CPU size: 4 blocks of width 32, 32..96 tokens, 8 neck channels at the top.
    "tiny": dict(
        backbone_config={**OFFICIAL_POINTMAP_BACKBONE, "hidden_size": 32, "num_hidden_layers": 4,
                         "num_attention_heads": 2, "image_size": 70},
        intermediate_layers=(0, 1, 2, 3),
        encoder_hidden_size=32,
        neck_hidden_sizes=(32, 16, 16, 8, 8),
        head_hidden_sizes=(32, 16, 16, 8, 8),
        scale_head_hidden_sizes=(32,),
        num_tokens_range=(32, 96),
    ),
    # CPU training size (`ma-vlm pretrain-pointmap`): 6 blocks of width 96.
    "small": dict(
        backbone_config={**OFFICIAL_POINTMAP_BACKBONE, "hidden_size": 96, "num_hidden_layers": 6,
                         "num_attention_heads": 3, "image_size": 224},
        intermediate_layers=(1, 3, 4, 5),
        encoder_hidden_size=96,
        neck_hidden_sizes=(96, 48, 32, 16, 16),
        head_hidden_sizes=(96, 48, 32, 16, 16),
        scale_head_hidden_sizes=(96,),
        num_tokens_range=(64, 256),
    ),
}


def pointmap_preset_config(name: str, **overrides) -> MetricAnythingPointMapConfig:
    """`MetricAnythingPointMapConfig` of a named preset; keyword overrides win."""
    if name not in POINTMAP_PRESETS:
        raise MaVlmInputError(f"unknown point-map preset {name!r}; choose one of {sorted(POINTMAP_PRESETS)}")
    return MetricAnythingPointMapConfig(**{**POINTMAP_PRESETS[name], **overrides})
