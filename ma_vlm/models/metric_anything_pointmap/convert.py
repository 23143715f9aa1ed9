"""Convert an official Student-PointMap checkpoint (`student_pointmap.pt`) to a Transformers folder.

The published file is MoGe's format: `{"model_config": {...}, "model": state_dict}`. The config
gives the layout (backbone name, tapped layers, neck/head widths, resamplers, remap); the
DINOv2 widths, depth and position grid are read from tensor shapes and cross-checked. DINOv2's
fused `qkv` is split into Transformers' query/key/value. Every key must find a place, and every
model weight must be filled: anything else is an error that names the keys.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from ma_vlm.errors import MaVlmInputError
from ma_vlm.models.conversion import check_conversion_output, load_converted, resolve_checkpoint, write_conversion
from ma_vlm.models.image_utils import IMAGENET_MEAN, IMAGENET_STD
from ma_vlm.models.metric_anything_pointmap.configuration_metric_anything_pointmap import (
    OFFICIAL_POINTMAP_BACKBONE,
    MetricAnythingPointMapConfig,
)

VIT = "encoder.backbone."
HEADS = ("points_head", "mask_head", "normal_head")
_BLOCK_RENAMES = {
    "norm1": "norm1", "norm2": "norm2", "attn.proj": "attention.output.dense",
    "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2",
}
_RES_LAYERS = {"0": "norm1", "2": "conv1", "3": "norm2", "5": "conv2"}
_STACK_KEY = re.compile(r"^(neck|points_head|mask_head|normal_head)\.(input_blocks|resamplers|res_blocks|output_blocks)"
                        r"\.(\d+)\.(.*)$")


def read_pointmap_checkpoint(checkpoint: str | os.PathLike):
    """(model_config, state) of a MoGe-format file, or None when it is another kind of checkpoint."""
    path = resolve_checkpoint(checkpoint)
    if path.suffix == ".safetensors":
        return None
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as error:
        raise MaVlmInputError(
            f"{path} could not be read safely ({type(error).__name__}: {str(error)[:200]}); "
            "only plain tensor checkpoints load with weights_only=True"
        ) from None
    if not (isinstance(raw, dict) and "model_config" in raw):
        return None
    if not isinstance(raw.get("model"), dict) or not isinstance(raw["model_config"], dict):
        raise MaVlmInputError(f'{path} has "model_config" but no "model" state dict; expected '
                              '{"model_config": {...}, "model": {...}} as MoGe saves it')
    return raw["model_config"], raw["model"]


def _require(state: dict, key: str) -> torch.Tensor:
    if key not in state:
        raise MaVlmInputError(f"not a Student-PointMap (MoGe-2) checkpoint: key {key!r} is missing")
    return state[key]


def _stack_fields(section: dict, name: str) -> dict:
    """Check one ConvStack section of the official config is a layout we build."""
    for key, expected in (("dim_times_res_block_hidden", 1), ("activation", "relu")):
        if section.get(key, expected) != expected:
            raise MaVlmInputError(f"model_config[{name!r}][{key!r}] = {section[key]!r}; only {expected!r} is supported")
    blocks = section.get("num_res_blocks", 1)
    levels = len(section["dim_res_blocks"])
    resamplers = section["resamplers"]
    return {
        "hidden_sizes": list(section["dim_res_blocks"]),
        "num_res_blocks": list(blocks) if isinstance(blocks, list) else [blocks] * levels,
        "resamplers": list(resamplers) if isinstance(resamplers, list) else [resamplers] * (levels - 1),
        "norms": (section.get("res_block_in_norm", "layer_norm"), section.get("res_block_hidden_norm", "group_norm")),
    }


def infer_pointmap_config(model_config: dict, state: dict, num_attention_heads: int | None = None):
    """A `MetricAnythingPointMapConfig` for the official `model_config` + state shapes."""
    encoder = model_config.get("encoder")
    if not isinstance(encoder, dict) or "neck" not in model_config or "points_head" not in model_config:
        raise MaVlmInputError("model_config lacks 'encoder', 'neck' or 'points_head': not a MoGe-2 point-map config")
    backbone_name = str(encoder.get("backbone", ""))
    if not backbone_name.startswith("dinov2_vit") or backbone_name.endswith("_reg") or "g14" in backbone_name:
        raise MaVlmInputError(f"backbone {backbone_name!r} not supported; DINOv2 ViT-S/B/L/14 without registers are")
    hidden = _require(state, f"{VIT}cls_token").shape[-1]
    heads = num_attention_heads or hidden // 64  # every DINOv2 hub model has 64-dim heads
    if heads < 1 or hidden % heads:
        raise MaVlmInputError(f"hidden size {hidden} does not split into {heads} heads; pass --num-attention-heads")
    depth = len({int(m.group(1)) for k in state if (m := re.match(re.escape(VIT) + r"blocks\.(\d+)\.", k))})
    patch = _require(state, f"{VIT}patch_embed.proj.weight").shape[-1]
    positions = _require(state, f"{VIT}pos_embed").shape[1] - 1
    side = int(round(positions**0.5))
    if side * side != positions:
        raise MaVlmInputError(f"pos_embed holds {positions} patch positions, not a square grid")
    taps = encoder["intermediate_layers"]
    taps = list(range(depth - taps, depth)) if isinstance(taps, int) else list(taps)
    neck = _stack_fields(model_config["neck"], "neck")
    head_sections = {name: _stack_fields(model_config[name], name) for name in HEADS if model_config.get(name)}
    head = head_sections["points_head"]
    for name, section in head_sections.items():
        if section != head:
            raise MaVlmInputError(f"{name} has another layout than points_head; heads with one shared layout only")
    if list(model_config["points_head"]["dim_in"]) != neck["hidden_sizes"]:
        raise MaVlmInputError(f"points_head dim_in {model_config['points_head']['dim_in']} != neck widths "
                              f"{neck['hidden_sizes']}; heads read the neck's levels")
    if neck["norms"] != head["norms"]:
        raise MaVlmInputError("neck and heads use different res-block norms; one setting for both is supported")
    expected_neck_in = [encoder["dim_out"] + 2] + [2] * (len(neck["hidden_sizes"]) - 1)
    if list(model_config["neck"]["dim_in"]) != expected_neck_in:
        raise MaVlmInputError(f"neck dim_in {model_config['neck']['dim_in']} != {expected_neck_in} "
                              "(encoder features + (u, v) at level 0, (u, v) after)")
    scale_dims = (model_config.get("scale_head") or {}).get("dims")
    return MetricAnythingPointMapConfig(
        backbone_config={**OFFICIAL_POINTMAP_BACKBONE, "hidden_size": hidden, "num_hidden_layers": depth,
                         "num_attention_heads": heads, "patch_size": patch, "image_size": side * patch,
                         "mlp_ratio": _mlp_ratio(state, hidden)},
        intermediate_layers=taps,
        encoder_hidden_size=encoder["dim_out"],
        neck_hidden_sizes=neck["hidden_sizes"], neck_num_res_blocks=neck["num_res_blocks"],
        neck_resamplers=neck["resamplers"],
        head_hidden_sizes=head["hidden_sizes"], head_num_res_blocks=head["num_res_blocks"],
        head_resamplers=head["resamplers"],
        res_block_in_norm=neck["norms"][0], res_block_hidden_norm=neck["norms"][1],
        use_mask_head="mask_head" in head_sections, use_normal_head="normal_head" in head_sections,
        use_scale_head=scale_dims is not None,
        scale_head_hidden_sizes=list(scale_dims[1:-1]) if scale_dims else [],
        remap_output=model_config.get("remap_output", "linear"),
        num_tokens_range=list(model_config.get("num_tokens_range", [1200, 3600])),
    )


def _mlp_ratio(state: dict, hidden: int) -> int:
    width = _require(state, f"{VIT}blocks.0.mlp.fc1.weight").shape[0]
    if width % hidden:
        raise MaVlmInputError(f"MLP width {width} is not a whole multiple of the hidden size {hidden}")
    return width // hidden


def _convert_stack_key(match: re.Match) -> str:
    stack, part, level, rest = match.groups()
    if part == "input_blocks":
        return f"{stack}.input_projections.{level}.{rest}"
    if part == "output_blocks":
        return f"{stack}.output_projections.{level}.{rest}"
    if part == "resamplers":
        index, leaf = rest.split(".", 1)
        return f"{stack}.upsamplers.{level}.{ {'0': 'upsample', '1': 'conv'}.get(index, '?' + index) }.{leaf}"
    block, kind, index, leaf = (rest.split(".", 3) + ["", "", ""])[:4]  # res_blocks.L.J.layers.K.leaf
    if kind != "layers" or index not in _RES_LAYERS:
        return f"?{match.string}"  # e.g. a skip_connection conv: our blocks keep their width
    return f"{stack}.res_blocks.{level}.{block}.{_RES_LAYERS[index]}.{leaf}"


def convert_pointmap_state_dict(state: dict, config: MetricAnythingPointMapConfig) -> dict[str, torch.Tensor]:
    """Official keys -> `MetricAnythingForPointMapEstimation` keys; raises on a key with no place."""
    hidden = config.hidden_size
    out, unused = {}, []
    for key in ("encoder.image_mean", "encoder.image_std"):
        reference = IMAGENET_MEAN if key.endswith("mean") else IMAGENET_STD
        if key in state and not torch.allclose(state[key].flatten().float(), torch.tensor(reference), atol=1e-6):
            raise MaVlmInputError(f"{key} = {state[key].flatten().tolist()} is not ImageNet's {reference}; "
                                  "the image processor would normalise differently")
    for key, value in state.items():
        if key in ("encoder.image_mean", "encoder.image_std"):
            continue
        if key.startswith(VIT):
            name = key[len(VIT):]
            block = re.match(r"blocks\.(\d+)\.(.+)$", name)
            if block:
                index, leaf = block.groups()
                dst = f"backbone.encoder.layer.{index}."
                if leaf.startswith("attn.qkv."):
                    kind = leaf.rsplit(".", 1)[1]
                    for part, tensor in zip(("query", "key", "value"), value.split(hidden)):
                        out[f"{dst}attention.attention.{part}.{kind}"] = tensor
                elif leaf in ("ls1.gamma", "ls2.gamma"):
                    out[f"{dst}layer_scale{leaf[2]}.lambda1"] = value
                elif (base := leaf.rsplit(".", 1)[0]) in _BLOCK_RENAMES:
                    out[f"{dst}{_BLOCK_RENAMES[base]}.{leaf.rsplit('.', 1)[1]}"] = value
                else:
                    unused.append(key)
                continue
            simple = {"cls_token": "embeddings.cls_token", "pos_embed": "embeddings.position_embeddings",
                      "mask_token": "embeddings.mask_token", "patch_embed.proj.weight":
                      "embeddings.patch_embeddings.projection.weight", "patch_embed.proj.bias":
                      "embeddings.patch_embeddings.projection.bias", "norm.weight": "layernorm.weight",
                      "norm.bias": "layernorm.bias"}
            if name in simple:
                out[f"backbone.{simple[name]}"] = value.reshape(1, hidden) if name == "mask_token" else value
            else:
                unused.append(key)
        elif match := re.match(r"^encoder\.output_projections\.(\d+)\.(weight|bias)$", key):
            out[f"feature_projections.{match.group(1)}.{match.group(2)}"] = value
        elif match := _STACK_KEY.match(key):
            new = _convert_stack_key(match)
            (unused.append(key) if "?" in new else out.__setitem__(new, value))
        elif re.match(r"^scale_head\.\d+\.(weight|bias)$", key):
            out[key] = value
        else:
            unused.append(key)
    if unused:
        raise MaVlmInputError(f"{len(unused)} checkpoint keys have no place in the model, e.g. {sorted(unused)[:5]}")
    return out


def convert_pointmap_checkpoint(checkpoint, output_dir, num_attention_heads: int | None = None, overwrite=False,
                                loaded=None):
    """Write a Transformers folder (safetensors, config, preprocessor config, model card), whole or
    not at all. `loaded`: (model_config, state) already read. Returns the model in eval mode."""
    from transformers.initialization import no_init_weights

    from ma_vlm.models.metric_anything_pointmap.image_processing_metric_anything_pointmap import (
        MetricAnythingPointMapImageProcessor,
    )
    from ma_vlm.models.metric_anything_pointmap.model_card import write_pointmap_model_card
    from ma_vlm.models.metric_anything_pointmap.modeling_metric_anything_pointmap import (
        MetricAnythingForPointMapEstimation,
    )

    output_dir = Path(output_dir)
    check_conversion_output(output_dir, resolve_checkpoint(checkpoint), overwrite)
    loaded = loaded or read_pointmap_checkpoint(checkpoint)
    if loaded is None:
        raise MaVlmInputError(f'{checkpoint} is not a point-map checkpoint ({{"model_config", "model"}})')
    model_config, state = loaded
    config = infer_pointmap_config(model_config, state, num_attention_heads)
    with no_init_weights():
        model = MetricAnythingForPointMapEstimation(config)
    load_converted(model, convert_pointmap_state_dict(state, config))
    model.eval()
    write_conversion(output_dir, checkpoint, lambda staging: (
        model.save_pretrained(staging),
        MetricAnythingPointMapImageProcessor().save_pretrained(staging),
        write_pointmap_model_card(staging, source=str(checkpoint), config=config),
    ))
    return model
