"""Convert an official Metric Anything Student-DepthMap checkpoint to a Transformers folder.

The official `student_depthmap.pt` is a plain state dict: the ViT under `encoder.patch_encoder.*`
with the original DINOv3 key names, the neck under the rest of `encoder.*`, then `decoder.*` and
`head.*`. Every dimension is read from tensor shapes; only the attention head count is not in the
shapes, and even that is cross-checked against the RoPE `periods` buffer (head_dim / 4 values)
when the checkpoint has it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from ma_vlm.errors import MaVlmInputError
from ma_vlm.models.conversion import check_conversion_output, load_converted, resolve_checkpoint, write_conversion
from ma_vlm.models.metric_anything.configuration_metric_anything import OFFICIAL_BACKBONE, MetricAnythingConfig

VIT = "encoder.patch_encoder."
OFFICIAL_TAP_LAYERS = (7, 13, 19, 25)
OFFICIAL_NUM_HEADS = 20

# Per-block renames (DINOv3 original -> Transformers DINOv3ViTModel); qkv is split separately.
_BLOCK_RENAMES = {
    "norm1": "norm1",
    "norm2": "norm2",
    "attn.proj": "attention.o_proj",
    "ls1.gamma": "layer_scale1.lambda1",
    "ls2.gamma": "layer_scale2.lambda1",
    "mlp.w1": "mlp.gate_proj",
    "mlp.w2": "mlp.up_proj",
    "mlp.w3": "mlp.down_proj",
}
_NECK = re.compile(r"^encoder\.(upsample_latent\d|upsample\d|upsample_lowres|fuse_lowres)(\..*)$")


def load_official_state_dict(checkpoint: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a `.pt` (weights_only) or `.safetensors` file, a folder holding one, or a hub id
    `org/name` or `org/name/file.pt`."""
    path = resolve_checkpoint(checkpoint)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            state = load_file(str(path))
        except Exception as error:  # SafetensorError: truncated download, not a safetensors file
            raise MaVlmInputError(
                f"{path} is not a readable .safetensors file ({str(error)[:200]}); "
                "it may be truncated: download it again"
            ) from None
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except Exception as error:  # pickle with code objects, truncated file, not a torch file
            raise MaVlmInputError(
                f"{path} could not be read safely as a state dict ({type(error).__name__}: {str(error)[:200]}); "
                "only plain tensor checkpoints load with weights_only=True"
            ) from None
    for wrapper in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise MaVlmInputError(f"{path} does not hold a state dict of tensors")
    return state


def _count_steps(state: dict, prefix: str) -> int:
    """Number of 2x transposed convs after the 1x1 projection in `prefix`.{0,1,2,...}."""
    return sum(1 for key in state if re.fullmatch(re.escape(prefix) + r"\.[1-9]\d*\.weight", key))


def infer_config(
    state: dict[str, torch.Tensor],
    num_attention_heads: int | None = None,
    tap_layers: tuple[int, ...] | None = None,
) -> MetricAnythingConfig:
    """A `MetricAnythingConfig` whose shapes match the official-format `state`."""
    if f"{VIT}cls_token" not in state or "head.0.weight" not in state:
        sample = ", ".join(sorted(state)[:3])
        raise MaVlmInputError(
            "not a Metric Anything Student-DepthMap checkpoint: expected keys like "
            f"'{VIT}cls_token' and 'head.0.weight', found e.g. {sample}"
        )
    hidden = state[f"{VIT}cls_token"].shape[-1]
    depth = len({int(m.group(1)) for k in state if (m := re.match(re.escape(VIT) + r"blocks\.(\d+)\.", k))})
    if f"{VIT}blocks.0.mlp.w1.weight" not in state:
        raise MaVlmInputError("only SwiGLU ViT blocks (mlp.w1/w2/w3) are supported, as in Student-DepthMap")
    heads = num_attention_heads
    periods = state.get(f"{VIT}rope_embed.periods")
    if periods is not None:
        heads_from_rope = hidden // (4 * periods.numel())
        if heads is not None and heads != heads_from_rope:
            raise MaVlmInputError(
                f"--num-attention-heads {heads} disagrees with the checkpoint's RoPE periods "
                f"({periods.numel()} values -> head_dim {4 * periods.numel()} -> {heads_from_rope} heads)"
            )
        heads = heads_from_rope
    heads = heads or OFFICIAL_NUM_HEADS
    if hidden % heads:
        raise MaVlmInputError(f"hidden size {hidden} is not divisible by {heads} heads; pass --num-attention-heads")
    taps = tuple(tap_layers) if tap_layers else OFFICIAL_TAP_LAYERS
    if max(taps) >= depth:
        raise MaVlmInputError(f"the checkpoint has {depth} blocks; taps {taps} need more, pass --tap-layers")
    key_bias = bool(_split_qkv_bias(state, 0, hidden)[1].abs().max() > 0)
    backbone = {
        **OFFICIAL_BACKBONE,
        "hidden_size": hidden,
        "num_hidden_layers": depth,
        "num_attention_heads": heads,
        "intermediate_size": state[f"{VIT}blocks.0.mlp.w1.weight"].shape[0],
        "num_register_tokens": state[f"{VIT}storage_tokens"].shape[1] if f"{VIT}storage_tokens" in state else 0,
        "patch_size": state[f"{VIT}patch_embed.proj.weight"].shape[-1],
        "key_bias": key_bias,
    }
    neck = "encoder."
    return MetricAnythingConfig(
        backbone_config=backbone,
        tap_layers=taps,
        tap_feature_dims=[state[f"{neck}upsample_latent{i}.0.weight"].shape[0] for i in range(4)],
        tap_upsample_steps=[_count_steps(state, f"{neck}upsample_latent{i}") for i in range(4)],
        level_feature_dims=[state[f"{neck}upsample{i}.0.weight"].shape[0] for i in range(3)],
        level_upsample_steps=[_count_steps(state, f"{neck}upsample{i}") for i in range(3)],
        decoder_hidden_size=state["decoder.convs.0.weight"].shape[0],
        head_hidden_size=state["head.2.weight"].shape[0],
    )


def _split_qkv_bias(state: dict, block: int, hidden: int) -> tuple[torch.Tensor, ...]:
    prefix = f"{VIT}blocks.{block}.attn.qkv."
    bias = state[prefix + "bias"]
    mask = state.get(prefix + "bias_mask")
    if mask is not None:
        if not torch.isfinite(mask).all():
            raise MaVlmInputError(f"{prefix}bias_mask holds NaN: the checkpoint was saved from an uninitialised model")
        bias = bias * mask
    return bias.split(hidden)


def convert_state_dict(state: dict[str, torch.Tensor], config: MetricAnythingConfig) -> dict[str, torch.Tensor]:
    """Official keys -> `MetricAnythingForDepthEstimation` keys. Raises on any key left unused."""
    hidden = config.hidden_size
    out: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    vit = "model.backbone."

    def take(src: str, dst: str, value: torch.Tensor | None = None) -> None:
        used.add(src)
        out[dst] = state[src] if value is None else value

    take(f"{VIT}cls_token", f"{vit}embeddings.cls_token")
    if f"{VIT}storage_tokens" in state:
        take(f"{VIT}storage_tokens", f"{vit}embeddings.register_tokens")
    if f"{VIT}mask_token" in state:
        take(f"{VIT}mask_token", f"{vit}embeddings.mask_token", state[f"{VIT}mask_token"].reshape(1, 1, hidden))
    for name in ("weight", "bias"):
        take(f"{VIT}patch_embed.proj.{name}", f"{vit}embeddings.patch_embeddings.{name}")
        take(f"{VIT}norm.{name}", f"{vit}norm.{name}")
    used.add(f"{VIT}rope_embed.periods")  # recomputed by Transformers; checked in infer_config
    for block in range(config.backbone_config.num_hidden_layers):
        src, dst = f"{VIT}blocks.{block}.", f"{vit}model.layer.{block}."
        for old, new in _BLOCK_RENAMES.items():
            leaves = [""] if old.endswith("gamma") else [".weight", ".bias"]
            for leaf in leaves:
                if f"{src}{old}{leaf}" in state:  # absent ones are reported by load_converted
                    take(f"{src}{old}{leaf}", f"{dst}{new}{leaf}")
        q_w, k_w, v_w = state[f"{src}attn.qkv.weight"].split(hidden)
        q_b, k_b, v_b = _split_qkv_bias(state, block, hidden)
        used.update({f"{src}attn.qkv.weight", f"{src}attn.qkv.bias", f"{src}attn.qkv.bias_mask"})
        out.update({f"{dst}attention.q_proj.weight": q_w, f"{dst}attention.k_proj.weight": k_w,
                    f"{dst}attention.v_proj.weight": v_w, f"{dst}attention.q_proj.bias": q_b,
                    f"{dst}attention.v_proj.bias": v_b})
        if config.backbone_config.key_bias:
            out[f"{dst}attention.k_proj.bias"] = k_b
        elif k_b.abs().max() > 0:
            raise MaVlmInputError(f"block {block} has a non-zero key bias but block 0 has none")
    for key in state:
        if match := _NECK.match(key):
            take(key, f"neck.{match.group(1)}{match.group(2)}")
        elif key.startswith(("decoder.", "head.")):
            take(key, key)
    unused = sorted(set(state) - used)
    if unused:
        raise MaVlmInputError(f"{len(unused)} checkpoint keys have no place in the model, e.g. {unused[:5]}")
    return out


def convert_checkpoint(
    checkpoint: str | os.PathLike,
    output_dir: str | os.PathLike,
    num_attention_heads: int | None = None,
    tap_layers: tuple[int, ...] | None = None,
    overwrite: bool = False,
):
    """Write a Transformers folder (safetensors, config, preprocessor config, model card).

    The folder appears whole or not at all: it is written beside `output_dir` and renamed. With
    `overwrite`, only an earlier conversion is replaced (see `check_replaceable`).
    Returns the loaded `MetricAnythingForDepthEstimation` in eval mode.
    """
    from transformers.initialization import no_init_weights

    from ma_vlm.models.metric_anything.image_processing_metric_anything import MetricAnythingImageProcessor
    from ma_vlm.models.metric_anything.model_card import write_model_card
    from ma_vlm.models.metric_anything.modeling_metric_anything import MetricAnythingForDepthEstimation

    output_dir = Path(output_dir)
    source = resolve_checkpoint(checkpoint)
    check_conversion_output(output_dir, source, overwrite)
    state = load_official_state_dict(source)
    config = infer_config(state, num_attention_heads, tap_layers)
    with no_init_weights():
        model = MetricAnythingForDepthEstimation(config)
    load_converted(model, convert_state_dict(state, config))
    model.eval()
    write_conversion(output_dir, checkpoint, lambda staging: (
        model.save_pretrained(staging),
        MetricAnythingImageProcessor(size=config.image_size).save_pretrained(staging),
        write_model_card(staging, source=str(checkpoint), config=config),
    ))
    return model
