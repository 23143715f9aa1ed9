"""Metric Anything in Transformers: the vision tower and the metric depth model.

Read top to bottom: the ViT runner (Transformers' own DINOv3/DINOv2 modules), the tower
(`MetricAnythingModel`: pyramid of tiles, one ViT call, tapped blocks, visual tokens), the
depth neck/decoder/head, and `MetricAnythingForDepthEstimation`.

One encoder pass serves every consumer: the tower's output carries both the visual tokens
(`last_hidden_state`, `hidden_states`, for an LLM) and the feature maps the depth decoder uses.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
from torch import nn
from transformers import Dinov2Model, DINOv3ViTModel, PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from ma_vlm.errors import MaVlmInputError
from ma_vlm.geometry import backproject_pixels, check_focal_length, check_intrinsics
from ma_vlm.models.attention_outputs import output_flag, recorded_attentions
from ma_vlm.models.cpu_heap import keeps_freed_memory_at_inference
from ma_vlm.models.metric_anything.configuration_metric_anything import MetricAnythingConfig
from ma_vlm.models.metric_anything.decoder import (
    MetricAnythingDecoder,
    MetricAnythingHead,
    MetricAnythingNeck,
    MetricAnythingPromptLayer,
    ResidualConvUnit,
)
from ma_vlm.models.metric_anything.depth_units import (
    canonical_to_inverse_depth,
    depth_to_canonical,
    inverse_depth_to_depth,
)
from ma_vlm.models.metric_anything.prompt_fusion import (
    DelaunayPlan,
    MetricAnythingPromptFusion,
    align_to_prompt,
    densify_prompt,
    densify_prompt_delaunay,
)
from ma_vlm.models.metric_anything.pyramid import build_pyramid, merge_tiles, split_into_tiles, tile_grid
from ma_vlm.models.metric_anything.vit_inference import fused_blocks


@dataclass
class MetricAnythingModelOutput(ModelOutput):
    """Output of the tower.

    last_hidden_state: (B, 1 + N, D) final-normed CLS + patch tokens of the whole image (the
        quarter-resolution tile in pyramid mode: N = 24 x 24 as published). Register tokens are
        removed, so LLaVA's `default` strategy (drop the first token) leaves exactly the patches.
    pooler_output: (B, D) the CLS token.
    hidden_states: per-layer (B, 1 + N, D) tokens of the same image (embeddings + every block,
        before the final norm), when `output_hidden_states=True`.
    tap_features: 4 x (B, D, S/p, S/p) raw outputs of the tapped blocks, stitched over the full-
        resolution tiles (pyramid mode only).
    level_features: final-normed maps of the three pyramid levels, (B, D, S/p, S/p),
        (B, D, S/2p, S/2p), (B, D, S/4p, S/4p) (pyramid mode only).
    attentions: per-block (B, heads, T, T) attention weights over the same image's tokens
        (T = 1 + registers + N: registers kept, they take part in attention), when
        `output_attentions=True`.
    """

    last_hidden_state: torch.FloatTensor | None = None
    pooler_output: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    tap_features: tuple[torch.FloatTensor, ...] | None = None
    level_features: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


@dataclass
class MetricAnythingDepthEstimatorOutput(ModelOutput):
    """Output of `MetricAnythingForDepthEstimation`, all from one pass, at network resolution.

    predicted_depth: (B, S, S) metres, or None when no camera was given.
    inverse_depth: (B, S, S) metric inverse depth, 1/m (before clamping), or None likewise.
    canonical_inverse_depth: (B, S, S) the head's output; metric inverse depth is
        canonical * S / fx (`ma_vlm.models.metric_anything.depth_units`).
    last_hidden_state / hidden_states / attentions: the tower's visual tokens, (B, 1 + N, D), CLS
        first, and its attention weights (`MetricAnythingModelOutput`).
    token_depth: (B, N) metres, one per patch token of `last_hidden_state` (CLS excluded): the
        median of `predicted_depth` over the S/t x S/t pixels the token covers (t x t tokens).
        Median, not mean: a token straddling an edge gets the depth of a surface it sees, not a
        value between foreground and background where nothing is.
    token_points: (B, N, 3) metres, camera frame (OpenCV axes: x right, y down, z forward): the
        back-projection of each token's centre pixel at its `token_depth`.
    intrinsics: (B, 4) [fx, fy, cx, cy] in pixels of `pixel_values`, as used (`ma_vlm.geometry`).
    network_inverse_depth: teacher with a prompt only: (B, S, S) metric inverse depth, 1/m, of
        the network alone, before the prompt fusion blends in the densified prompt (training
        supervises it too, so the network keeps learning where the fusion trusts the prompt).
    """

    loss: torch.FloatTensor | None = None
    predicted_depth: torch.FloatTensor | None = None
    inverse_depth: torch.FloatTensor | None = None
    canonical_inverse_depth: torch.FloatTensor | None = None
    network_inverse_depth: torch.FloatTensor | None = None
    last_hidden_state: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    token_depth: torch.FloatTensor | None = None
    token_points: torch.FloatTensor | None = None
    intrinsics: torch.FloatTensor | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


def _vit_parts(backbone: nn.Module):
    """(embed(pixel_values) -> (tokens, layer kwargs), blocks, final norm) of a Transformers ViT."""
    if hasattr(backbone, "rope_embeddings"):  # DINOv3ViTModel

        def embed(pixel_values):
            return backbone.embeddings(pixel_values), {"position_embeddings": backbone.rope_embeddings(pixel_values)}

        return embed, backbone.model.layer, backbone.norm

    def embed(pixel_values):  # Dinov2Model: absolute position embeddings, interpolated
        return backbone.embeddings(pixel_values), {}

    return embed, backbone.encoder.layer, backbone.layernorm


class MetricAnythingPreTrainedModel(PreTrainedModel):
    config: MetricAnythingConfig
    config_class = MetricAnythingConfig
    base_model_prefix = "model"
    main_input_name = "pixel_values"
    input_modalities = ("image",)
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _no_split_modules = ["DINOv3ViTLayer", "Dinov2Layer"]

    @torch.no_grad()
    def _init_weights(self, module):
        """The init a depth model trains from (whether built by `from_config`, `preset_config` or
        the trainer); checkpoint weights are never touched (Transformers' `init.*` skip loaded ones).

        Why not torch's default conv init: it shrinks the signal by ~1/sqrt(3) per layer, and we
        measured a fresh model whose output varied by ~1e-5 around a constant and barely trained.
        Transformers visits children before parents, so each part below re-initialises its own convs:
        - neck and decoder convs: He-normal, linear gain; head convs: He-normal, ReLU gain;
        - residual units start as identities (their second conv is zero);
        - the head's last conv (before its final ReLU or exp) starts constant: zero weights, bias
          `config.head_init_canonical_inverse_depth`, so every pixel starts above the ReLU's kink
          whatever the feature scale of this init. A He-scaled last conv put one seed's
          pre-activations mostly below 0, where the ReLU gives no gradient, and even 2 % of He left
          some pixels below 0 (the head's input features reach several units). Its weights get a
          gradient at the first step, and the layers before it from the second;
        - prompt layers and the prompt fusion: He (ReLU) hidden convs, zero output conv, so a new
          teacher equals its student.
        The ViT is a PreTrainedModel and initialises itself (Transformers dispatches per sub-model).
        """
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            init.kaiming_uniform_(module.weight, a=5**0.5)  # torch's default, for convs outside the parts below
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, (MetricAnythingNeck, MetricAnythingDecoder)):
            _init_part(module, "linear")
        elif isinstance(module, MetricAnythingHead):
            _init_part(module, "relu")
            init_head_output(module, self.config)
        elif isinstance(module, MetricAnythingPromptFusion):
            _init_part(module, "relu")


def init_head_output(head: MetricAnythingHead, config) -> None:
    """The head's last conv (before its final activation) predicts
    `config.head_init_canonical_inverse_depth` everywhere: zero weights, and a bias of that value
    (ReLU head) or of its logarithm (exp head)."""
    last = head[-2]  # head = [..., Conv2d(hidden, 1), ReLU | ExpActivation]
    init.zeros_(last.weight)
    init.constant_(last.bias, head_output_bias(config))


def head_output_bias(config) -> float:
    """The last conv's bias that makes the head predict `head_init_canonical_inverse_depth`."""
    value = float(config.head_init_canonical_inverse_depth)
    return math.log(value) if config.head_activation == "exp" else value


def _init_part(part: nn.Module, gain_name: str) -> None:
    """He-normal convs; then residual units become identities and prompt layers / the prompt
    fusion get ReLU-gain hidden convs and a zero output conv (a new teacher equals its student)."""
    for conv in _convolutions(part):
        _he_normal(conv, gain_name)
    for module in part.modules():
        if isinstance(module, ResidualConvUnit):
            init.zeros_(module.residual[-1].weight)
            init.zeros_(module.residual[-1].bias)
        if isinstance(module, (MetricAnythingPromptLayer, MetricAnythingPromptFusion)):
            _he_normal(module.convolution1, "relu")
            _he_normal(module.convolution2, "relu")
            init.zeros_(module.convolution3.weight)
            init.zeros_(module.convolution3.bias)


def _convolutions(module: nn.Module):
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


def _he_normal(conv: nn.Module, gain_name: str) -> None:
    """He-normal (fan-in) weights, zero bias; a no-op on weights loaded from a checkpoint."""
    fan_in = conv.weight.shape[0] if isinstance(conv, nn.ConvTranspose2d) else conv.weight[0].numel()
    init.normal_(conv.weight, 0.0, nn.init.calculate_gain(gain_name) / fan_in**0.5)
    if conv.bias is not None:
        init.zeros_(conv.bias)


class MetricAnythingModel(MetricAnythingPreTrainedModel):
    """The Metric Anything vision tower.

    Pyramid mode (published): `pixel_values` (B, 3, S, S) with S = `config.image_size`. The image
    and its 1/2 and 1/4 downsamples are cut into overlapping tiles (25 + 9 + 1 at 1536 px) that
    go through the ViT in one batched call. Single mode (`use_pyramid=False`): the ViT runs once
    on (B, 3, H, W), H and W any multiple of the patch size (RoPE needs no fixed grid).
    """

    # A depth-model folder (teacher or student) loads into the bare tower, e.g. as an MLLM's
    # vision tower: its neck, decoder, head and prompt layers are left out by design, and
    # Transformers' load report need not list them as unexpected.
    _keys_to_ignore_on_load_unexpected = [r"^(neck|decoder|head|prompt_fusion)\.", r"prompt_depth_layer\."]

    def __init__(self, config: MetricAnythingConfig):
        super().__init__(config)
        backbone_class = Dinov2Model if config.backbone_config.model_type == "dinov2" else DINOv3ViTModel
        self.backbone = backbone_class(config.backbone_config)
        self.post_init()

    @property
    def num_visual_tokens(self) -> int:
        """Patch tokens per image in `last_hidden_state` (after dropping CLS), pyramid mode."""
        return self.config.tokens_per_tile**2

    def get_input_embeddings(self):
        return self.backbone.get_input_embeddings()

    def _check_pixel_values(self, pixel_values: torch.Tensor) -> None:
        if pixel_values.ndim != 4 or pixel_values.shape[1] != 3:
            raise MaVlmInputError(
                f"pixel_values must be (B, 3, H, W), got {tuple(pixel_values.shape)}; "
                "prepare images with MetricAnythingImageProcessor"
            )
        height, width = pixel_values.shape[-2:]
        size = self.config.image_size
        if self.config.use_pyramid and (height, width) != (size, size):
            raise MaVlmInputError(
                f"pixel_values are {height}x{width} but this tower's pyramid needs {size}x{size}; "
                "prepare images with MetricAnythingImageProcessor (it resizes as the official code does)"
            )
        patch = self.config.patch_size
        if height % patch or width % patch:
            raise MaVlmInputError(f"pixel_values {height}x{width} must be multiples of the patch size {patch}")

    def run_vit(self, tiles: torch.Tensor, tap_layers=(), tap_count: int | None = None, keep_last: int = 0):
        """Run the ViT over a batch of tiles.

        Returns (final-normed tokens (N, T, D), raw outputs of `tap_layers` for the first
        `tap_count` tiles, per-layer tokens of the last `keep_last` tiles or None).
        """
        embed, blocks, norm = _vit_parts(self.backbone)
        hidden, layer_kwargs = embed(tiles)
        taps = {}
        per_layer = [hidden[-keep_last:]] if keep_last else None
        fused = fused_blocks(blocks, hidden, layer_kwargs)  # inference: buffers shared by all blocks
        for index, block in enumerate(blocks):
            if fused is not None:
                hidden = fused(block, hidden, keep=index in tap_layers or per_layer is not None)
            else:
                hidden = block(hidden, **layer_kwargs)
            if index in tap_layers:
                taps[index] = hidden[:tap_count]
            if per_layer is not None:
                per_layer.append(hidden[-keep_last:])
        return norm(hidden), [taps[layer] for layer in tap_layers], per_layer

    def _drop_registers(self, tokens: torch.Tensor) -> torch.Tensor:
        """[CLS, registers, patches] -> [CLS, patches]."""
        prefix = self.config.num_prefix_tokens
        return torch.cat([tokens[:, :1], tokens[:, prefix:]], dim=1)

    def _to_map(self, tokens: torch.Tensor) -> torch.Tensor:
        """(N, prefix + t*t, D) -> (N, D, t, t) patch-token map."""
        patches = tokens[:, self.config.num_prefix_tokens :]
        side = int(patches.shape[1] ** 0.5)
        return patches.transpose(1, 2).reshape(patches.shape[0], -1, side, side)

    @keeps_freed_memory_at_inference
    def forward(
        self,
        pixel_values: torch.Tensor,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        output_attentions: bool | None = None,
        **kwargs,
    ) -> MetricAnythingModelOutput | tuple:
        """pixel_values: (B, 3, S, S) ImageNet-normalised RGB; see the class docstring."""
        self._check_pixel_values(pixel_values)
        output_hidden_states = output_flag(output_hidden_states, self.config.output_hidden_states)
        output_attentions = output_flag(output_attentions, self.config.output_attentions)
        return_dict = output_flag(return_dict, self.config.return_dict)
        batch = pixel_values.shape[0]
        with recorded_attentions(self.backbone, output_attentions, batch) as attentions:
            output = self._encode(pixel_values, batch, output_hidden_states)
        output.attentions = tuple(attentions) if attentions is not None else None
        return output if return_dict else output.to_tuple()

    def _encode(self, pixel_values: torch.Tensor, batch: int, output_hidden_states: bool) -> MetricAnythingModelOutput:
        pixel_values = pixel_values.to(next(self.backbone.parameters()).dtype)
        keep_last = batch if output_hidden_states else 0
        tap_features = level_features = None

        if self.config.use_pyramid:
            tile, config = self.config.tile_size, self.config
            full, half, quarter = build_pyramid(pixel_values)
            tiles = torch.cat(
                [
                    split_into_tiles(full, tile, config.tile_overlaps[0]),
                    split_into_tiles(half, tile, config.tile_overlaps[1]),
                    quarter,
                ]
            )
            steps = [tile_grid(config.image_size >> level, tile, config.tile_overlaps[level])[0] for level in (0, 1)]
            crops = [int(overlap * config.tokens_per_tile / 2) for overlap in config.tile_overlaps]
            full_count = steps[0] ** 2 * batch
            final, taps, per_layer = self.run_vit(tiles, config.tap_layers, full_count, keep_last)
            maps = self._to_map(final)
            tap_features = tuple(merge_tiles(self._to_map(tap), steps[0], crops[0]) for tap in taps)
            level_features = (
                merge_tiles(maps[:full_count], steps[0], crops[0]),
                merge_tiles(maps[full_count:-batch], steps[1], crops[1]),
                maps[-batch:],
            )
        else:
            final, _, per_layer = self.run_vit(pixel_values, keep_last=keep_last)

        last_hidden_state = self._drop_registers(final[-batch:])
        hidden_states = tuple(self._drop_registers(h) for h in per_layer) if per_layer else None
        return MetricAnythingModelOutput(
            last_hidden_state=last_hidden_state,
            pooler_output=last_hidden_state[:, 0],
            hidden_states=hidden_states,
            tap_features=tap_features,
            level_features=level_features,
        )


class MetricAnythingForDepthEstimation(MetricAnythingPreTrainedModel):
    """Tower + neck + multi-resolution decoder + head -> metric depth.

    Key names follow the official checkpoint (`neck.*` = official `encoder.upsample*`/`fuse_lowres`,
    `decoder.*`, `head.*`), so conversion is a rename (see `convert_official.py`).
    """

    def __init__(self, config: MetricAnythingConfig):
        super().__init__(config)
        if not config.use_pyramid:
            raise MaVlmInputError("depth estimation needs the pyramid tower: set use_pyramid=True")
        self.model = MetricAnythingModel(config)
        self.neck = MetricAnythingNeck(config)
        self.decoder = MetricAnythingDecoder(config)
        self.head = MetricAnythingHead(config)
        self.prompt_fusion = MetricAnythingPromptFusion() if config.use_prompt and config.use_prompt_fusion else None
        if config.prompt_densifier not in ("delaunay", "pyramid"):
            raise MaVlmInputError(f"prompt_densifier {config.prompt_densifier!r}: use 'delaunay' or 'pyramid'")
        if config.prompt_alignment not in ("none", "residual"):
            raise MaVlmInputError(f"prompt_alignment {config.prompt_alignment!r}: use 'none' or 'residual'")
        if not config.use_prompt:
            # A prompt-free student built from a teacher's folder drops the teacher's prompt layers
            # by design; Transformers' load report need not list them as unexpected.
            self._keys_to_ignore_on_load_unexpected = [r"prompt_depth_layer\.", r"^prompt_fusion\."]
        self.post_init()

    @keeps_freed_memory_at_inference
    def forward(
        self,
        pixel_values: torch.Tensor,
        intrinsics: torch.Tensor | None = None,
        focal_length_px: torch.Tensor | float | None = None,
        prompt_depth: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        output_attentions: bool | None = None,
        **kwargs,
    ) -> MetricAnythingDepthEstimatorOutput | tuple:
        """pixel_values: (B, 3, S, S). intrinsics: (B, 4) [fx, fy, cx, cy] in pixels of
        `pixel_values` (the image processor rescales them from the image as given).
        focal_length_px: (B,) or a number, shorthand for a centred camera with fx = fy; given
        with `intrinsics` it must equal their fx. Without a camera only the canonical inverse
        depth and the tokens come back.

        prompt_depth (teacher, `config.use_prompt`): (B, 1, S, S) or (B, S, S) sparse metric depth
        in metres at network size, 0 = missing (`MetricAnythingImageProcessor.prepare_prompt_depth`);
        needs a camera. Images whose prompt is all zero run as without a prompt.
        """
        return_dict = output_flag(return_dict, self.config.return_dict)
        batch, size = pixel_values.shape[0], self.config.image_size
        camera = resolve_intrinsics(intrinsics, focal_length_px, batch, size, pixel_values.device)
        focal = camera[:, 0] if camera is not None else None
        tower = self.model(
            pixel_values,
            output_hidden_states=output_flag(output_hidden_states, self.config.output_hidden_states),
            output_attentions=output_flag(output_attentions, self.config.output_attentions),
            return_dict=True,
        )
        prompt = None
        densify = densify_prompt
        if prompt_depth is not None:
            sparse = self.prompt_in_canonical_units(prompt_depth, focal, batch)
            if self.config.prompt_densifier == "delaunay":  # one triangulation for the prompt and the alignment
                densify = functools.partial(densify_prompt_delaunay, plan=DelaunayPlan(sparse[:, 1:]))
            dense, support = densify(sparse[:, :1], sparse[:, 1:])
            prompt = torch.cat([dense, support], dim=1)
        # channels_last: oneDNN / cuDNN convolutions then run without a layout reorder around each
        # call; on CPU this halves the time of neck + decoder + head (perf/encoder_speed.py).
        taps, levels = (
            [f.contiguous(memory_format=torch.channels_last) for f in group]
            for group in (tower.tap_features, tower.level_features)
        )
        features = self.neck(taps, levels)
        canonical = self.head(self.decoder(features, prompt=prompt)).squeeze(1)  # (B, S, S)
        network_canonical = None
        aligned = self.config.prompt_alignment == "residual"
        if prompt is not None and (self.prompt_fusion is not None or aligned):
            network_canonical = canonical
            present = sparse[:, 1].amax(dim=(1, 2)) > 0
            if aligned:
                canonical = align_to_prompt(canonical, sparse, densify, present)
            if self.prompt_fusion is not None:
                canonical = self.prompt_fusion(canonical, dense, support, pixel_values, present)

        inverse_depth = predicted_depth = token_depth = token_points = network_inverse_depth = None
        if camera is not None:
            inverse_depth = canonical_to_inverse_depth(canonical, focal, canonical.shape[-1])
            predicted_depth = inverse_depth_to_depth(inverse_depth)
            token_depth, token_points = token_depth_and_points(predicted_depth, camera, self.config.tokens_per_tile)
            if network_canonical is not None:
                network_inverse_depth = canonical_to_inverse_depth(network_canonical, focal, canonical.shape[-1])
        output = MetricAnythingDepthEstimatorOutput(
            predicted_depth=predicted_depth,
            inverse_depth=inverse_depth,
            canonical_inverse_depth=canonical,
            network_inverse_depth=network_inverse_depth,
            last_hidden_state=tower.last_hidden_state,
            hidden_states=tower.hidden_states,
            token_depth=token_depth,
            token_points=token_points,
            intrinsics=camera,
            attentions=tower.attentions,
        )
        return output if return_dict else output.to_tuple()

    def prompt_in_canonical_units(self, prompt_depth: torch.Tensor, focal_length_px, batch: int) -> torch.Tensor:
        """(B, 1|-, S, S) metres, 0 = missing -> (B, 2, S, S) [canonical inverse depth, validity].

        The prompt speaks the head's own units: depth d metres is canonical f / (S * d)
        (`depth_units.depth_to_canonical`), f the focal length in pixels of `pixel_values`.
        """
        if not self.config.use_prompt:
            raise MaVlmInputError(
                "this model is prompt-free (config.use_prompt=False); load it as a teacher with "
                "from_pretrained(path, use_prompt=True) or drop prompt_depth"
            )
        if focal_length_px is None:
            raise MaVlmInputError(
                "prompt_depth needs focal_length_px or intrinsics: the metric prompt is converted to the model's "
                "canonical inverse depth f / (S * depth_m); pass the camera in pixels of pixel_values"
            )
        size = self.config.image_size
        if prompt_depth.ndim == 3:
            prompt_depth = prompt_depth[:, None]
        if prompt_depth.ndim != 4 or tuple(prompt_depth.shape[1:]) != (1, size, size) or prompt_depth.shape[0] != batch:
            raise MaVlmInputError(
                f"prompt_depth must be ({batch}, 1, {size}, {size}) metres at network size, got "
                f"{tuple(prompt_depth.shape)}; resize it with MetricAnythingImageProcessor.prepare_prompt_depth"
            )
        if not torch.isfinite(prompt_depth).all() or (prompt_depth < 0).any():
            raise MaVlmInputError("prompt_depth must be finite metres >= 0 with 0 = missing (no NaN/inf/negative)")
        focal = check_focal_length(focal_length_px, batch, prompt_depth.device).to(torch.float32)
        depth = prompt_depth.to(torch.float32)
        valid = depth > 0
        canonical = torch.where(valid, depth_to_canonical(depth.clamp_min(1e-6), focal, size), torch.zeros_like(depth))
        return torch.cat([canonical, valid.to(torch.float32)], dim=1)


def resolve_intrinsics(intrinsics, focal_length_px, batch: int, size: int, device=None) -> torch.Tensor | None:
    """The (B, 4) camera in pixels of the S x S `pixel_values`, from `intrinsics` or from the
    `focal_length_px` shorthand (centred principal point); None when neither is given."""
    if intrinsics is None:
        if focal_length_px is None:
            return None
        focal = check_focal_length(focal_length_px, batch, device)
        centre = torch.full_like(focal, (size - 1) / 2)
        return torch.stack([focal, focal, centre, centre], dim=-1)
    camera = check_intrinsics(intrinsics, batch, device)
    if focal_length_px is not None:
        focal = check_focal_length(focal_length_px, batch, device)
        if not torch.compiler.is_compiling() and not torch.allclose(focal, camera[:, 0], rtol=1e-5):
            raise MaVlmInputError(
                f"focal_length_px {focal.tolist()} disagrees with intrinsics fx {camera[:, 0].tolist()}; pass one of them"
            )
    return camera


def token_depth_and_points(predicted_depth: torch.Tensor, intrinsics: torch.Tensor, tokens_per_side: int):
    """(B, S, S) metres and (B, 4) intrinsics -> token_depth (B, t*t) metres (median over each
    token's S/t x S/t pixels, row-major like the tokens) and token_points (B, t*t, 3) metres,
    the back-projection of each token's centre pixel at that depth."""
    batch, size = predicted_depth.shape[0], predicted_depth.shape[-1]
    block = size // tokens_per_side
    blocks = predicted_depth.reshape(batch, tokens_per_side, block, tokens_per_side, block)
    blocks = blocks.permute(0, 1, 3, 2, 4).reshape(batch, tokens_per_side**2, block * block)
    token_depth = blocks.median(dim=-1).values
    # centre of a block of pixels [k * block, (k + 1) * block) under integer pixel centres
    centres = torch.arange(tokens_per_side, device=predicted_depth.device, dtype=predicted_depth.dtype)
    centres = centres * block + (block - 1) / 2
    v, u = torch.meshgrid(centres, centres, indexing="ij")
    token_points = backproject_pixels(u.reshape(1, -1), v.reshape(1, -1), token_depth, intrinsics)
    return token_depth, token_points


__all__ = [
    "MetricAnythingPreTrainedModel",
    "MetricAnythingModel",
    "MetricAnythingForDepthEstimation",
    "MetricAnythingModelOutput",
    "MetricAnythingDepthEstimatorOutput",
]
