"""The depth-prior plugin: Metric Anything features and metric depth inside an existing MLLM.

    plugged = add_depth_prior(model, depth_model, mode="add", position_encoding_3d=True)
    depth = MetricAnythingImageProcessor(size=...)(images, focal_length_px=...)
    out = model(**mllm_inputs, depth_prior_pixel_values=depth["pixel_values"], depth_prior_intrinsics=K)
    ids = model.generate(**mllm_inputs, depth_prior_pixel_values=..., depth_prior_intrinsics=K)

`depth_prior_intrinsics`: (B, 4) [fx, fy, cx, cy] in pixels of `depth_prior_pixel_values`. One
depth image per image-feature row of the MLLM (per image; per crop for Idefics3 with splitting).

How it hooks in (no Transformers forward is copied):
- the model's `forward` is wrapped (same signature plus the two `depth_prior_*` arguments, so
  `generate` and `Trainer` pass them through) to hand the depth inputs to the plugin;
- the inner model's `get_image_features` is wrapped: the tower runs ONCE there, only when the
  MLLM embeds images (the first step of `generate`), and its tokens/depth/points are fused into
  the projected visual tokens (`pooler_output`) before Transformers scatters them into the text;
- `cross_attention` adds forward hooks on chosen LLM decoder layers; the depth memory is kept
  for the cached decoding steps of `generate`.
"""

from __future__ import annotations

import functools
import inspect

import torch
from torch import nn
from transformers.modeling_outputs import BaseModelOutputWithPooling
from transformers.utils import ModelOutput

from ma_vlm.errors import MaVlmInputError
from ma_vlm.plugin.configuration_depth_prior import DepthPriorConfig
from ma_vlm.plugin.families import family_of, inner_model, language_layers
from ma_vlm.plugin.layers import DepthProjector, GatedCrossAttention, PositionEncoding3D, resample_grid
from ma_vlm.plugin.tower import DepthTokens, run_depth_tower

DEPTH_INPUTS = ("depth_prior_pixel_values", "depth_prior_intrinsics")


class DepthPrior(nn.Module):
    """The plugin's layers (and the Metric Anything model), attached to an MLLM as `model.depth_prior`."""

    def __init__(self, config: DepthPriorConfig, depth_model: nn.Module):
        super().__init__()
        self.config = config
        self.depth_model = depth_model
        tower, llm = config.tower_hidden_size, config.llm_hidden_size
        self.projector = DepthProjector(tower, llm, zero_init=config.mode == "add") if config.uses_projector else None
        self.position_encoding = (
            PositionEncoding3D(llm, config.num_bands, config.encoding_hidden_size) if config.position_encoding_3d else None
        )
        layers = config.cross_attention_layers if config.mode == "cross_attention" else []
        self.cross_attention = nn.ModuleDict({str(i): GatedCrossAttention(llm, config.num_heads) for i in layers})
        self._pending: tuple | None = None  # (pixel_values, intrinsics) of the forward in progress
        self._memory: torch.Tensor | None = None  # (B, N, H) depth tokens for cross-attention

    def plugin_parameters(self) -> list[nn.Parameter]:
        """The new layers' parameters (the Metric Anything model excluded)."""
        return [p for name, p in self.named_parameters() if not name.startswith("depth_model.")]

    def plugin_state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.state_dict().items() if not k.startswith("depth_model.")}

    # -- what the depth tokens become ------------------------------------------------------------

    def embed(self, tokens, token_depth, token_points) -> torch.Tensor | None:
        """Tower tokens (B, N, D), depth (B, N) m, points (B, N, 3) m -> (B, N, H) or None (nothing to add)."""
        dtype = (self.projector or self.position_encoding).fc1.weight.dtype
        embedded = self.projector(tokens.to(dtype), token_depth) if self.projector is not None else None
        if self.position_encoding is not None:
            encoding = self.position_encoding(token_points)
            embedded = encoding if embedded is None else embedded + encoding
        return embedded

    def embed_on_grid(self, depth: DepthTokens, index: int, grid) -> torch.Tensor:
        """Depth tokens of image `index` resampled to a (rows, cols) grid and embedded -> (rows*cols, H)."""
        pick = slice(index, index + 1)
        tokens = resample_grid(depth.tokens[pick], depth.grid, grid)
        token_depth = resample_grid(depth.token_depth[pick, :, None], depth.grid, grid)[..., 0]
        points = resample_grid(depth.token_points[pick], depth.grid, grid)
        return self.embed(tokens, token_depth, points)[0]

    def fuse_rows(self, depth: DepthTokens, rows: list[torch.Tensor], grids) -> list[torch.Tensor]:
        """Apply `add` / `position_encoding_3d` / `concat` to each (n, H) row of visual tokens."""
        mode, fused = self.config.mode, []
        for index, (row, (height, width, offset)) in enumerate(zip(rows, grids)):
            if mode == "concat":
                side = self.config.concat_tokens_per_side
                fused.append(torch.cat([row, self.embed_on_grid(depth, index, (side, side)).to(row.dtype)]))
            else:  # add, position_encoding_3d: on the MLLM's own grid, after its leading non-grid tokens
                delta = self.embed_on_grid(depth, index, (height, width)).to(row.dtype)
                fused.append(torch.cat([row[:offset], row[offset:] + delta]))
        return fused

    def replace_rows(self, depth: DepthTokens, grids) -> list[torch.Tensor]:
        """`replace`: visual tokens made from Metric Anything alone, on the MLLM's grid (same token count)."""
        rows = []
        for index, (height, width, offset) in enumerate(grids):
            row = self.embed_on_grid(depth, index, (height, width))
            if offset:  # a slot for the CLS token (LLaVA's "full" strategy): the tower's CLS at the mean depth
                cls = self.projector(depth.cls_token[index, None, None].to(row.dtype), depth.token_depth[index].mean().view(1, 1))
                row = torch.cat([cls[0].expand(offset, -1), row])
            rows.append(row)
        return rows

    def memory(self, depth: DepthTokens) -> torch.Tensor:
        return self.embed(depth.tokens, depth.token_depth, depth.token_points)

    def run_tower(self, expected_images: int | None) -> DepthTokens:
        if self._pending is None or self._pending[0] is None:
            raise MaVlmInputError(
                "this MLLM has a depth prior: pass depth_prior_pixel_values (MetricAnythingImageProcessor) and "
                "depth_prior_intrinsics ((B, 4) [fx, fy, cx, cy] pixels) with the images, to the model or generate()"
            )
        pixel_values, intrinsics = self._pending
        if expected_images is not None and pixel_values.shape[0] != expected_images:
            raise MaVlmInputError(
                f"depth_prior_pixel_values holds {pixel_values.shape[0]} images but the MLLM produced {expected_images} "
                "rows of visual tokens; give one depth image per image (per crop for Idefics3 with image splitting)"
            )
        return run_depth_tower(self.depth_model, pixel_values, intrinsics)


def _has_cache(past_key_values) -> bool:
    if past_key_values is None:
        return False
    return past_key_values.get_seq_length() > 0 if hasattr(past_key_values, "get_seq_length") else True


def _rebuild(rows: list[torch.Tensor], like):
    if isinstance(like, torch.Tensor):
        return torch.stack(rows)
    return tuple(rows) if isinstance(like, tuple) else list(rows)


def _wrap_forward(model, prior: DepthPrior) -> None:
    original = model.forward
    signature = inspect.signature(original)

    @functools.wraps(original)
    def forward(*args, depth_prior_pixel_values=None, depth_prior_intrinsics=None, **kwargs):
        arguments = signature.bind_partial(*args, **kwargs).arguments
        has_images = arguments.get("pixel_values") is not None
        if not has_images and not _has_cache(arguments.get("past_key_values")):
            prior._memory = None  # a new text-only sequence: no depth to attend to
        prior._pending = (depth_prior_pixel_values, depth_prior_intrinsics)
        try:
            return original(*args, **kwargs)
        finally:
            prior._pending = None

    extra = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=None) for n in DEPTH_INPUTS]
    params = list(signature.parameters.values())
    keyword_at = next((i for i, p in enumerate(params) if p.kind == p.VAR_KEYWORD), len(params))
    forward.__signature__ = signature.replace(parameters=params[:keyword_at] + extra + params[keyword_at:])
    model.forward = forward


def _wrap_image_features(model, prior: DepthPrior, family) -> None:
    inner = inner_model(model)
    original = inner.get_image_features
    signature = inspect.signature(original)
    mode = prior.config.mode

    @functools.wraps(original)
    def get_image_features(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = {**bound.arguments, **bound.arguments.get("kwargs", {})}
        if mode == "replace":
            grids = family.grids(inner, arguments, None)
            depth = prior.run_tower(len(grids))
            output = BaseModelOutputWithPooling(last_hidden_state=depth.tokens, pooler_output=None)
            like = torch.empty(0) if family.name == "idefics3" else []
            output.pooler_output = _rebuild(prior.replace_rows(depth, grids), like)
            return output if arguments.get("return_dict") is not False else output.to_tuple()
        output = original(*args, **kwargs)
        is_output = isinstance(output, ModelOutput)  # Idefics3 sets pooler_output on a plain BaseModelOutput
        pooled = output.pooler_output if is_output else output[1]
        rows = list(pooled)
        if mode == "cross_attention":
            prior._memory = prior.memory(prior.run_tower(None))
            return output
        grids = family.grids(inner, arguments, [row.shape[0] for row in rows])
        rows = prior.fuse_rows(prior.run_tower(len(rows)), rows, grids)
        if is_output:
            output.pooler_output = _rebuild(rows, pooled)
            return output
        return (output[0], _rebuild(rows, pooled), *output[2:])

    inner.get_image_features = get_image_features


def _hook_cross_attention(model, prior: DepthPrior) -> None:
    layers = language_layers(model)

    def hook(module, inputs, output, block):
        if prior._memory is None:
            return output
        hidden = output[0] if isinstance(output, tuple) else output
        if prior._memory.shape[0] != hidden.shape[0]:
            raise MaVlmInputError(
                f"cross_attention mode needs one depth image per sequence: {prior._memory.shape[0]} depth images "
                f"for a batch of {hidden.shape[0]}"
            )
        hidden = block(hidden, prior._memory)
        return (hidden, *output[1:]) if isinstance(output, tuple) else hidden

    for index, block in prior.cross_attention.items():
        layers[int(index)].register_forward_hook(functools.partial(hook, block=block))


def _default_cross_attention_layers(count: int) -> list[int]:
    chosen = min(4, count)
    return sorted({round(i * (count - 1) / max(chosen - 1, 1)) for i in range(chosen)})


def add_depth_prior(model, depth_model, mode: str = "add", position_encoding_3d: bool = False, **options):
    """Attach a Metric Anything depth prior to an MLLM that keeps its own vision tower; returns `model`.

    model: a Transformers *ForConditionalGeneration of a supported family (LLaVA, LLaVA-NeXT/OneVision
        (cross_attention only), Idefics3/SmolVLM, Qwen2-VL/Qwen2.5-VL).
    depth_model: `MetricAnythingForDepthEstimation` (frozen unless you unfreeze it).
    mode: "replace" | "add" | "concat" | "cross_attention" | "position_encoding_3d".
    position_encoding_3d: also add the learned 3D encoding of `token_points` to the depth tokens.
    options: other `DepthPriorConfig` fields (concat_tokens_per_side, cross_attention_layers, ...).

    New layers start at zero effect for add, position_encoding_3d and cross_attention; replace and
    concat change the visual tokens by construction. `concat`: call `update_image_token_count`
    on the processor. Save/load: `save_depth_prior` / `load_depth_prior`.
    """
    if hasattr(model, "depth_prior"):
        raise MaVlmInputError("this model already has a depth prior; load a fresh copy to plug another one")
    family = family_of(model)
    config = DepthPriorConfig(mode=mode, position_encoding_3d=position_encoding_3d, **options)
    if config.mode not in family.modes:
        raise MaVlmInputError(
            f"mode {config.mode!r} is not available for {family.name} models; choose one of {list(family.modes)}"
        )
    text_config = model.config.get_text_config()
    layers = language_layers(model)
    config.tower_hidden_size = depth_model.config.backbone_config.hidden_size
    config.llm_hidden_size = text_config.hidden_size
    config.num_heads = config.num_heads or text_config.num_attention_heads
    if config.mode == "cross_attention" and config.cross_attention_layers is None:
        config.cross_attention_layers = _default_cross_attention_layers(len(layers))
    if config.mode == "cross_attention" and not all(0 <= i < len(layers) for i in config.cross_attention_layers):
        raise MaVlmInputError(f"cross_attention_layers must index the LLM's {len(layers)} decoder layers")
    if config.mode == "concat" and config.concat_tokens_per_side is None:
        config.concat_tokens_per_side = depth_model.config.tokens_per_tile
    config.model_type, config.architecture = model.config.model_type, type(model).__name__
    reference = model.get_input_embeddings().weight
    prior = DepthPrior(config, depth_model)
    plugin_layers = [m for name, m in prior.named_children() if name != "depth_model"]
    for module in plugin_layers:
        module.to(device=reference.device, dtype=reference.dtype)
    depth_model.to(reference.device)
    model.add_module("depth_prior", prior)
    _wrap_forward(model, prior)
    _wrap_image_features(model, prior, family)
    _hook_cross_attention(model, prior)
    return model


def update_image_token_count(processor, model):
    """After `add_depth_prior(..., mode="concat")`: make the processor insert as many image
    placeholder tokens as the plugged model produces (idempotent). Returns the processor."""
    prior = getattr(model, "depth_prior", None)
    if prior is None or prior.config.mode != "concat":
        raise MaVlmInputError("update_image_token_count is for models plugged with mode='concat'")
    attribute = family_of(model).image_token_count_attribute
    side = prior.config.concat_tokens_per_side
    added = getattr(processor, "_depth_prior_added_tokens", 0)
    setattr(processor, attribute, getattr(processor, attribute) - added + side * side)
    processor._depth_prior_added_tokens = side * side
    return processor
