"""Config of the spatial MLLM: Transformers' `LlavaConfig` plus the projector choice."""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import LlavaConfig

from ma_vlm.errors import MaVlmInputError
from ma_vlm.mllm.projector import PROJECTOR_TYPES, projected_token_count
from ma_vlm.registration import ensure_registered


def check_vision_pyramid_level(level, vision_feature_layer) -> None:
    """The pyramid level the visual tokens come from: 2, 1 or 0; levels 1 and 0 are last-layer maps."""
    if level not in (0, 1, 2):
        raise MaVlmInputError(f"vision_pyramid_level {level!r}: use 2 (whole image), 1 or 0")
    if level != 2 and vision_feature_layer != -1:
        raise MaVlmInputError(f"vision_pyramid_level {level} gives last-layer tokens only; "
                              f"set vision_feature_layer=-1 (got {vision_feature_layer})")


@strict
class SpatialLlavaConfig(LlavaConfig):
    r"""
    A `LlavaConfig` (any `text_config`; `vision_config` is normally a `MetricAnythingConfig`)
    with two more fields:

    projector_type (`str`): "linear", "mlp" (LLaVA-1.5's, the default), "pixel_shuffle" or
        "avg_pool" (`ma_vlm.mllm.projector`).
    token_reduction (`int`): side r of the r x r token neighbourhoods merged into one visual
        token by the reducing projectors (1 = no reduction).
    vision_pyramid_level (`int`): which of the tower's pyramid levels gives the visual tokens.
        2 (as published): the whole image at quarter resolution, one tile, (S / 4 / patch)^2
        tokens with CLS, any `vision_feature_layer`. 1 or 0: the half- or full-resolution tiles
        merged into one map, (S / 2 / patch)^2 or (S / patch)^2 tokens of the last layer (the
        maps the depth decoder reads), for a finer view, usually with a reducing projector.
    """

    model_type = "spatial_llava"

    projector_type: str = "mlp"
    token_reduction: int = 1
    vision_pyramid_level: int = 2

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        ensure_registered(self.model_type)  # AutoModel* lookups need a config first (ma_vlm.registration)
        if self.projector_type not in PROJECTOR_TYPES:
            raise ValueError(f"projector_type {self.projector_type!r} is not supported; use one of {PROJECTOR_TYPES}")
        check_vision_pyramid_level(self.vision_pyramid_level, self.vision_feature_layer)

    @property
    def tower_tokens_per_image(self) -> int:
        """Patch tokens per image from the tower (after LLaVA's feature-select strategy)."""
        vision = self.vision_config
        if self.vision_pyramid_level != 2:  # a merged map of the finer levels: no CLS
            return (vision.image_size // vision.patch_size >> self.vision_pyramid_level) ** 2
        count = vision.tokens_per_tile**2 if hasattr(vision, "tokens_per_tile") else (
            (vision.image_size // vision.patch_size) ** 2)  # fmt: skip
        return count + (1 if self.vision_feature_select_strategy == "full" else 0)

    @property
    def num_image_tokens(self) -> int:
        """Image tokens the processor inserts per image (what the LLM sees)."""
        return projected_token_count(self.tower_tokens_per_image, self.projector_type, self.token_reduction)
