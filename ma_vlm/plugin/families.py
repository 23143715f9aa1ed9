"""Which MLLMs the plugin supports, and where each keeps what the plugin needs.

The seam is the same in every family: the inner model's `get_image_features` returns the
projected visual tokens as `pooler_output` (one (n, H) row per image or crop) just before
they are scattered into the text embeddings. A family says how to read the token grid of
each row and where the LLM's decoder layers are; nothing of Transformers' forward is copied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from ma_vlm.errors import MaVlmInputError

ALL_MODES = ("replace", "add", "concat", "cross_attention", "position_encoding_3d")

Grid = tuple[int, int, int]  # (rows, cols, leading tokens that are not on the grid, e.g. LLaVA's CLS)


def _square(count: int) -> Grid:
    side = math.isqrt(count)
    if side * side == count:
        return side, side, 0
    side = math.isqrt(count - 1)
    if side * side == count - 1:  # LLaVA's "full" strategy keeps the CLS token first
        return side, side, 1
    raise MaVlmInputError(f"cannot read a square token grid from {count} visual tokens per image")


def _llava_grids(inner, args: dict, counts: list[int] | None) -> list[Grid]:
    if counts is not None:
        return [_square(c) for c in counts]
    vision = inner.config.vision_config
    side = vision.image_size // vision.patch_size
    strategy = args.get("vision_feature_select_strategy") or inner.config.vision_feature_select_strategy
    return [(side, side, int(strategy == "full"))] * args["pixel_values"].shape[0]


def _idefics3_grids(inner, args: dict, counts: list[int] | None) -> list[Grid]:
    if counts is not None:
        return [_square(c) for c in counts]
    pixel_values = args["pixel_values"].flatten(0, 1)
    real = (pixel_values != 0).flatten(1).any(dim=1)  # padding crops are all zeros, as Idefics3 reads them
    return [_square(inner.image_seq_len)] * int(real.sum())


def _qwen_grids(inner, args: dict, counts: list[int] | None) -> list[Grid]:
    merge = inner.visual.spatial_merge_size
    grids = []
    for t, h, w in args["image_grid_thw"].tolist():
        if t != 1:
            raise MaVlmInputError("the depth prior reads still images (image_grid_thw t = 1); videos are not supported")
        grids.append((h // merge, w // merge, 0))
    return grids


def _language_layers(inner) -> torch.nn.ModuleList:
    language_model = getattr(inner, "language_model", None) or getattr(inner, "text_model")
    return language_model.layers


@dataclass(frozen=True)
class Family:
    name: str
    model_types: tuple[str, ...]
    modes: tuple[str, ...]
    grids: Callable[[object, dict, list[int] | None], list[Grid]] | None
    image_token_count_attribute: str | None = None  # the processor attribute `concat` adds tokens to


FAMILIES = (
    Family("llava", ("llava",), ALL_MODES, _llava_grids, "num_additional_image_tokens"),
    # NeXT/OneVision pack anyres crops with newline tokens before returning them: no single grid per
    # image, so only the mode that leaves the visual tokens alone is offered.
    Family("llava_next", ("llava_next", "llava_onevision"), ("cross_attention",), None),
    Family("idefics3", ("idefics3", "smolvlm"), ALL_MODES, _idefics3_grids, "image_seq_len"),
    # Qwen's M-RoPE positions are computed from image_grid_thw, so extra tokens (concat) would break them.
    Family("qwen2_vl", ("qwen2_vl", "qwen2_5_vl"), ("replace", "add", "cross_attention", "position_encoding_3d"),
           _qwen_grids),  # fmt: skip
)


def family_of(model) -> Family:
    model_type = getattr(model.config, "model_type", None)
    for family in FAMILIES:
        if model_type in family.model_types:
            return family
    supported = sorted(t for f in FAMILIES for t in f.model_types)
    raise MaVlmInputError(
        f"the depth prior does not support model_type {model_type!r}; supported: {supported} "
        "(an MLLM built with ma_vlm.mllm already has the Metric Anything tower)"
    )


def inner_model(model):
    """The module whose `get_image_features` produces the projected visual tokens."""
    inner = getattr(model, "model", None)
    if inner is None or not hasattr(inner, "get_image_features"):
        raise MaVlmInputError(
            f"{type(model).__name__} has no `.model.get_image_features`; pass the *ForConditionalGeneration model"
        )
    return inner


def language_layers(model) -> torch.nn.ModuleList:
    return _language_layers(inner_model(model))
