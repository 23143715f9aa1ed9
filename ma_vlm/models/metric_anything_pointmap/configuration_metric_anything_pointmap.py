"""Configuration of Metric Anything's Student-PointMap (a MoGe-2 network on DINOv2 ViT-L/14).

Defaults describe the published `student_pointmap.pt`: a DINOv2 ViT-L/14 whose blocks 5, 11, 17
and 23 are projected to 1024 channels and summed, a convolutional neck that upsamples the token
grid 16x in four 2x steps (1024, 256, 128, 64, 32 channels), heads for the affine-invariant point
map, the validity mask and (optionally) normals, and an MLP on the CLS token for the metric scale.
`ma_vlm.models.metric_anything_pointmap.presets` holds a tiny size for tests.
"""

from __future__ import annotations

from copy import deepcopy

from huggingface_hub.dataclasses import strict
from transformers.configuration_utils import PreTrainedConfig

from ma_vlm.errors import MaVlmInputError
from ma_vlm.registration import BackboneSubConfigs, ensure_registered

# DINOv2 ViT-L/14 as MoGe builds it (dinov2_vitl14: 518 px, layer scale 1.0, no registers).
OFFICIAL_POINTMAP_BACKBONE = dict(
    model_type="dinov2",
    patch_size=14,
    hidden_size=1024,
    num_hidden_layers=24,
    num_attention_heads=16,
    mlp_ratio=4,
    layerscale_value=1.0,
    layer_norm_eps=1e-6,
    image_size=518,
    qkv_bias=True,
)
RESAMPLER_TYPES = ("conv_transpose", "bilinear", "nearest")
NORM_TYPES = ("none", "layer_norm", "group_norm")
REMAP_TYPES = ("linear", "sinh", "exp", "sinh_exp")
CAMERA_SOLVERS = ("exact", "published")


@strict
class MetricAnythingPointMapConfig(PreTrainedConfig):
    r"""
    Args:
        backbone_config (`dict` or `Dinov2Config`): the ViT (Transformers' own `Dinov2Model`).
        intermediate_layers (`list[int]`): 0-based blocks whose final-normed tokens are projected
            to `encoder_hidden_size` channels and summed (5, 11, 17, 23 as published).
        encoder_hidden_size (`int`): channels of that projection (1024).
        interpolate_offset (`float`): DINOv2's historical +0.1 in the scale factor of the bicubic
            position-embedding interpolation; kept for parity with the published code.
        neck_hidden_sizes (`list[int]`): channels of the five neck levels; level k is 2^k times the
            token grid. Level 0 also reads the encoder features, every level reads a 2-channel
            normalised (u, v) map of the view plane (so the network sees the aspect ratio).
        neck_num_res_blocks / head_num_res_blocks (`list[int]`): residual blocks per level.
        neck_resamplers / head_resamplers (`list[str]`): 2x upsampler between levels:
            `conv_transpose`, `bilinear` or `nearest` (each followed by a 3x3 conv).
        head_hidden_sizes (`list[int]`): channels of the head levels (the neck's as published).
        res_block_in_norm / res_block_hidden_norm (`str`): `none` as published.
        use_mask_head / use_normal_head / use_scale_head (`bool`): which heads exist.
        remap_output (`str`): how raw (x, y, z) become the point map; `exp` (published): z = e^z',
            (x, y) = (x', y') z.
        num_tokens_range (`list[int]`): ViT tokens at `resolution_level` 0 and 9 (1200, 3600); the
            token grid keeps the image's aspect ratio.
        camera_solver (`str`): how the focal length and z-shift are fitted to the point map.
            `exact` (default): the least-squares minimiser, to convergence. `published`: the
            official code's solver (Levenberg-Marquardt from shift 0, ftol 1e-3), which stops
            short of it (seen: focal 0.2 %, depth 0.65 % away on a test image); use it to
            reproduce the official outputs exactly.
    """

    model_type = "metric_anything_pointmap"
    sub_configs = BackboneSubConfigs()  # {"backbone_config": AutoConfig}

    backbone_config: dict | PreTrainedConfig | None = None
    intermediate_layers: list[int] | tuple[int, ...] = (5, 11, 17, 23)
    encoder_hidden_size: int = 1024
    interpolate_offset: float = 0.1
    neck_hidden_sizes: list[int] | tuple[int, ...] = (1024, 256, 128, 64, 32)
    neck_num_res_blocks: list[int] | tuple[int, ...] = (0, 2, 2, 2, 0)
    neck_resamplers: list[str] | tuple[str, ...] = ("conv_transpose", "conv_transpose", "conv_transpose", "bilinear")
    head_hidden_sizes: list[int] | tuple[int, ...] = (1024, 256, 128, 64, 32)
    head_num_res_blocks: list[int] | tuple[int, ...] = (0, 1, 1, 1, 0)
    head_resamplers: list[str] | tuple[str, ...] = ("conv_transpose", "conv_transpose", "conv_transpose", "bilinear")
    res_block_in_norm: str = "none"
    res_block_hidden_norm: str = "none"
    use_mask_head: bool = True
    use_normal_head: bool = False
    use_scale_head: bool = True
    scale_head_hidden_sizes: list[int] | tuple[int, ...] = (1024, 1024)
    remap_output: str = "exp"
    num_tokens_range: list[int] | tuple[int, ...] = (1200, 3600)
    camera_solver: str = "exact"
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs):
        # imported here: this module loads while Transformers builds its Auto mappings (ma_vlm.registration)
        from transformers import Dinov2Config

        backbone = self.backbone_config
        if backbone is None:
            backbone = deepcopy(OFFICIAL_POINTMAP_BACKBONE)
        if isinstance(backbone, PreTrainedConfig):
            backbone = backbone.to_dict()
        backbone = deepcopy(backbone)
        model_type = backbone.pop("model_type", "dinov2")
        if model_type != "dinov2":
            raise MaVlmInputError(f"the point-map backbone is DINOv2; got model_type {model_type!r}")
        for derived in ("stage_names", "out_features", "out_indices"):
            backbone.pop(derived, None)
        self.backbone_config = Dinov2Config(**backbone)
        for name in ("intermediate_layers", "neck_hidden_sizes", "neck_num_res_blocks", "neck_resamplers",
                     "head_hidden_sizes", "head_num_res_blocks", "head_resamplers", "scale_head_hidden_sizes",
                     "num_tokens_range"):
            setattr(self, name, list(getattr(self, name)))
        super().__post_init__(**kwargs)
        ensure_registered(self.model_type)  # AutoModel* lookups need a config first (ma_vlm.registration)

    def validate_architecture(self):
        """Checks level counts, names and layer indices, with the fix in the message."""
        depth = self.backbone_config.num_hidden_layers
        if not self.intermediate_layers or any(not 0 <= i < depth for i in self.intermediate_layers):
            raise MaVlmInputError(f"intermediate_layers {self.intermediate_layers} must lie in [0, {depth})")
        for prefix in ("neck", "head"):
            sizes, blocks, resamplers = (getattr(self, f"{prefix}_{n}") for n in
                                         ("hidden_sizes", "num_res_blocks", "resamplers"))
            if not (len(sizes) == len(blocks) == len(resamplers) + 1):
                raise MaVlmInputError(f"{prefix}: need one hidden size and res-block count per level and one "
                                      f"resampler between levels; got {len(sizes)}, {len(blocks)}, {len(resamplers)}")
            bad = [r for r in resamplers if r not in RESAMPLER_TYPES]
            if bad:
                raise MaVlmInputError(f"{prefix}_resamplers {bad} not supported; use {RESAMPLER_TYPES}")
        if len(self.neck_hidden_sizes) != len(self.head_hidden_sizes):
            raise MaVlmInputError("neck and heads need the same number of levels")
        for name in ("res_block_in_norm", "res_block_hidden_norm"):
            if getattr(self, name) not in NORM_TYPES:
                raise MaVlmInputError(f"{name} {getattr(self, name)!r} not supported; use {NORM_TYPES}")
        if self.remap_output not in REMAP_TYPES:
            raise MaVlmInputError(f"remap_output {self.remap_output!r} not supported; use {REMAP_TYPES}")
        if self.camera_solver not in CAMERA_SOLVERS:
            raise MaVlmInputError(f"camera_solver {self.camera_solver!r} not supported; use {CAMERA_SOLVERS}")
        low, high = self.num_tokens_range
        if not 0 < low <= high:
            raise MaVlmInputError(f"num_tokens_range {self.num_tokens_range} must be 0 < min <= max")

    def num_tokens_for(self, resolution_level: int) -> int:
        """ViT tokens for a resolution level 0..9, as the published `infer` computes them."""
        if not 0 <= resolution_level <= 9:
            raise MaVlmInputError(f"resolution_level must be in 0..9, got {resolution_level}")
        low, high = self.num_tokens_range
        return int(low + (resolution_level / 9) * (high - low))

    @property
    def hidden_size(self) -> int:
        return self.backbone_config.hidden_size

    @hidden_size.setter
    def hidden_size(self, value: int) -> None:
        """A `hidden_size` in a config.json or in the arguments is accepted when it is the ViT's width."""
        if value != self.backbone_config.hidden_size:
            raise MaVlmInputError(
                f"hidden_size {value} differs from the ViT's width {self.backbone_config.hidden_size}: the width "
                "is backbone_config.hidden_size; set it there (or drop hidden_size)"
            )

    @property
    def patch_size(self) -> int:
        return self.backbone_config.patch_size


__all__ = ["MetricAnythingPointMapConfig", "OFFICIAL_POINTMAP_BACKBONE"]
