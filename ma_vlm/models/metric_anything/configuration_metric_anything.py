"""Configuration of the Metric Anything tower and its depth decoder.

Defaults describe the published Student-DepthMap (876.66M parameters): a DINOv3 ViT-H+/16
backbone run over a 3-level image pyramid (1536, 768, 384 px) cut into 384 px tiles, four
tapped blocks, a multi-resolution convolutional decoder (256 channels) and a head that
predicts canonical inverse depth. `ma_vlm.models.metric_anything.presets` holds smaller sizes.
"""

from __future__ import annotations

from copy import deepcopy

from huggingface_hub.dataclasses import strict
from transformers.configuration_utils import PreTrainedConfig

from ma_vlm.errors import MaVlmInputError
from ma_vlm.models.metric_anything.depth_units import INVERSE_DEPTH_CLAMP  # noqa: F401 (defined with its conversions)
from ma_vlm.registration import BackboneSubConfigs, ensure_registered

# The official ViT-H+/16 (the backbone under `encoder.patch_encoder.*` in `student_depthmap.pt`)
# as Transformers' DINOv3ViTConfig sees it.
OFFICIAL_BACKBONE = dict(
    model_type="dinov3_vit",
    patch_size=16,
    hidden_size=1280,
    intermediate_size=5120,
    num_hidden_layers=32,
    num_attention_heads=20,
    hidden_act="silu",
    use_gated_mlp=True,
    num_register_tokens=4,
    layerscale_value=1e-5,
    rope_theta=100.0,
    layer_norm_eps=1e-5,
    query_bias=True,
    key_bias=False,
    value_bias=True,
    proj_bias=True,
    mlp_bias=True,
    image_size=384,
    pos_embed_rescale=2.0,
)



SUPPORTED_BACKBONES = ("dinov3_vit", "metric_anything_vit", "dinov2")


def backbone_config_classes() -> dict:
    """model_type -> config class of the supported ViTs. Imported when a config is built, not
    with this module, which Transformers may import while loading AutoConfig (ma_vlm.registration)."""
    from transformers import Dinov2Config

    from ma_vlm.models.metric_anything.configuration_metric_anything_vit import MetricAnythingViTConfig

    return {"dinov3_vit": MetricAnythingViTConfig, "metric_anything_vit": MetricAnythingViTConfig, "dinov2": Dinov2Config}


def __getattr__(name: str):
    if name == "MetricAnythingViTConfig":  # kept importable from here
        from ma_vlm.models.metric_anything.configuration_metric_anything_vit import MetricAnythingViTConfig

        return MetricAnythingViTConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


HEAD_ACTIVATIONS = ("relu", "exp")


@strict
class MetricAnythingConfig(PreTrainedConfig):
    r"""
    Args:
        backbone_config (`dict` or `PreTrainedConfig`): the ViT, built with `AutoModel`
            (`dinov3_vit` as published, or `dinov2`). Its `image_size` is the tile size.
        image_size (`int`): side of the square network input in pixels (1536 as published).
        tile_overlaps (`tuple[float, float]`): overlap ratio of the tiles of the full- and
            half-resolution levels (0.25, 0.5); the quarter level is one tile.
        use_pyramid (`bool`): run the official pyramid of tiles. When `False` the ViT runs once on
            the whole `pixel_values` (any multiple of the patch size; no depth head).
        tap_layers (`tuple[int, ...]`): 0-based blocks whose raw output feeds the decoder.
        tap_feature_dims / tap_upsample_steps: width and number of 2x transposed-conv upsamplings
            of each tapped map (320 / 1, 2, 2, 2 as published).
        level_feature_dims / level_upsample_steps: the same for the final maps of the three
            pyramid levels (256, 320, 640 / 3, 1, 1).
        decoder_hidden_size (`int`): channels of the fusion decoder (256).
        head_hidden_size (`int`): channels of the last head convolutions (32).
        use_prompt (`bool`): build the prompt-based *teacher*: every fusion stage of the decoder
            gets a `prompt_depth_layer` that adds features of a Sparse Metric Prompt (densified value
            + support channels, see `MetricAnythingDecoder`). Its last convolution starts at zero, so a
            prompt-free *student* checkpoint loads into a teacher and gives identical outputs.
        prompt_hidden_size (`int`): channels of the prompt layers' hidden convolutions (None: the
            decoder width).
        use_prompt_fusion (`bool`): teacher only: after the head, blend the prediction with the
            densified prompt through a zero-initialised per-pixel gate
            (`ma_vlm.models.metric_anything.prompt_fusion`); False keeps decoder injection only.
        prompt_densifier (`str`): teacher only: how the sparse prompt is densified before the decoder
            and the fusion read it: "delaunay" (exact piecewise-linear interpolation in canonical
            inverse depth, what `baseline:linear` does) or "pyramid" (normalised convolution).
        prompt_alignment (`str`): teacher only: "none" (the gate blends the network's own
            prediction with the densified prompt) or "residual": before the gate, the network's
            log prediction is shifted by the densified log ratio prompt / prediction at the prompt
            pixels, so it equals the prompt there and keeps its own shape in between (the image
            supplies the structure, the prompt the scale; see `prompt_fusion.align_to_prompt`).
        head_init_canonical_inverse_depth (`float`): the value a freshly initialised head predicts
            everywhere (canonical inverse depth; 0.5 is ~2 m at a 53 degree field of view), see
            `MetricAnythingPreTrainedModel._init_weights`. Unused when weights are loaded.
        head_activation (`str`): the head's last activation: "relu" (the published model: canonical
            inverse depth = relu(z)) or "exp" (canonical inverse depth = exp(z), z clamped to
            [-12, 6]: the head predicts its logarithm). Same weights and keys either way. Why "exp"
            exists: training losses live in log depth, and through a ReLU a pixel's log-space
            step is ~1/c^2 of its raw step, so near pixels (c ~ 1, a tabletop at 1 m) learn ~1000x
            slower than far ones (c ~ 0.03, a street at 30 m); through exp every pixel's log-space
            step is its raw step.
    """

    model_type = "metric_anything"
    sub_configs = BackboneSubConfigs()  # {"backbone_config": AutoConfig}

    backbone_config: dict | PreTrainedConfig | None = None
    image_size: int = 1536
    tile_overlaps: list[float] | tuple[float, ...] = (0.25, 0.5)
    use_pyramid: bool = True
    tap_layers: list[int] | tuple[int, ...] = (7, 13, 19, 25)
    tap_feature_dims: list[int] | tuple[int, ...] = (320, 320, 320, 320)
    tap_upsample_steps: list[int] | tuple[int, ...] = (1, 2, 2, 2)
    level_feature_dims: list[int] | tuple[int, ...] = (256, 320, 640)
    level_upsample_steps: list[int] | tuple[int, ...] = (3, 1, 1)
    decoder_hidden_size: int = 256
    head_hidden_size: int = 32
    initializer_range: float = 0.02
    use_prompt: bool = False
    prompt_hidden_size: int | None = None
    use_prompt_fusion: bool = True
    prompt_densifier: str = "delaunay"
    prompt_alignment: str = "none"
    head_init_canonical_inverse_depth: float = 0.5
    head_activation: str = "relu"

    def __post_init__(self, **kwargs):
        backbone = self.backbone_config
        if backbone is None:
            backbone = deepcopy(OFFICIAL_BACKBONE)
        classes = backbone_config_classes()
        if isinstance(backbone, PreTrainedConfig) and not isinstance(backbone, tuple(classes.values())):
            backbone = backbone.to_dict()
        if isinstance(backbone, dict):
            backbone = deepcopy(backbone)
            model_type = backbone.pop("model_type", "dinov3_vit")
            if model_type not in SUPPORTED_BACKBONES:
                raise MaVlmInputError(
                    f"backbone model_type {model_type!r} is not supported; use one of {SUPPORTED_BACKBONES}"
                )
            for derived in ("stage_names", "out_features", "out_indices"):
                backbone.pop(derived, None)
            backbone = classes[model_type](**backbone)
        self.backbone_config = backbone
        for name in ("tile_overlaps", "tap_layers", "tap_feature_dims", "tap_upsample_steps",
                     "level_feature_dims", "level_upsample_steps"):
            setattr(self, name, list(getattr(self, name)))
        super().__post_init__(**kwargs)
        ensure_registered(self.model_type)  # AutoModel* lookups need a config first (ma_vlm.registration)

    def validate_architecture(self):
        """Checks that the pyramid tiles the input exactly, in token units."""
        patch = self.patch_size
        if self.tile_size % patch:
            raise MaVlmInputError(f"tile size {self.tile_size} must be a multiple of the patch size {patch}")
        if not self.use_pyramid:
            return
        if 2 ** (self.level_upsample_steps[0] + 1) != patch:
            raise MaVlmInputError(
                f"the decoder returns the input size only if 2^(level_upsample_steps[0] + 1) equals the patch size; "
                f"got steps {self.level_upsample_steps[0]} for patch {patch}"
            )
        if self.image_size != 4 * self.tile_size:
            raise MaVlmInputError(
                f"image_size {self.image_size} must be 4 x the tile size {self.tile_size} (three pyramid levels)"
            )
        if len(self.tile_overlaps) != 2:
            raise MaVlmInputError("tile_overlaps needs two ratios: full- and half-resolution levels")
        for level, overlap in enumerate(self.tile_overlaps):
            crop = overlap * self.tokens_per_tile / 2
            if crop != int(crop):
                raise MaVlmInputError(
                    f"level {level}: overlap {overlap} x {self.tokens_per_tile} tokens/tile / 2 is not a whole "
                    "number of tokens; pick a tile size or overlap that crops whole tokens"
                )
        depth = self.backbone_config.num_hidden_layers
        if any(not 0 <= layer < depth for layer in self.tap_layers):
            raise MaVlmInputError(f"tap_layers {self.tap_layers} must lie in [0, {depth}) for a {depth}-block ViT")
        if not (len(self.tap_layers) == len(self.tap_feature_dims) == len(self.tap_upsample_steps) == 4):
            raise MaVlmInputError("tap_layers, tap_feature_dims and tap_upsample_steps need 4 entries each")
        if not (len(self.level_feature_dims) == len(self.level_upsample_steps) == 3):
            raise MaVlmInputError("level_feature_dims and level_upsample_steps need 3 entries each")

    # Attributes consumers such as Transformers' LLaVA read from a vision config.
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

    @property
    def tile_size(self) -> int:
        return self.backbone_config.image_size

    @property
    def tokens_per_tile(self) -> int:
        return self.tile_size // self.patch_size

    @property
    def num_prefix_tokens(self) -> int:
        """CLS plus register tokens that precede the patch tokens inside the ViT."""
        return 1 + getattr(self.backbone_config, "num_register_tokens", 0)


__all__ = ["MetricAnythingConfig", "OFFICIAL_BACKBONE", "backbone_config_classes"]
