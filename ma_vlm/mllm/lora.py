"""Named training stages with PEFT.

- `align`: only the projector trains (the LLM and the tower are frozen); no adapters.
- `lora`: LoRA on the LLM's linear layers, the projector trained fully (PEFT `modules_to_save`,
  so it is saved with the adapters), and optionally LoRA on the tower's ViT (`tower_lora`).

    model = apply_stage(model, "lora", LoraSettings(rank=16))
    ... train ...
    model.save_pretrained("adapter/")                       # adapters + projector, one folder
    model = load_spatial_mllm("adapter/")                   # base + adapters + projector, one call
    merged = model.merge_and_unload()                       # a plain SpatialLlava again
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ma_vlm.errors import MaVlmInputError

STAGES = ("align", "lora")
PROJECTOR = "multi_modal_projector"
# Linear layers of Llama-family decoders and of DINOv3/DINOv2 ViT blocks.
LLM_LINEAR = r"(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"
TOWER_LINEAR = r"(q_proj|k_proj|v_proj|o_proj|query|key|value|dense|up_proj|down_proj|fc1|fc2)"


@dataclass
class LoraSettings:
    """rank/alpha/dropout of the LoRA layers; tower_lora: LoRA on the tower's ViT too;
    llm_modules / tower_modules: regexes of the leaf names that get LoRA."""

    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    tower_lora: bool = False
    llm_modules: str = LLM_LINEAR
    tower_modules: str = TOWER_LINEAR
    extra: dict = field(default_factory=dict)  # more peft.LoraConfig fields


def lora_config(settings: LoraSettings):
    from peft import LoraConfig

    parts = [rf"model\.language_model\..*\.{settings.llm_modules}"]
    if settings.tower_lora:
        parts.append(rf"model\.vision_tower\..*\.{settings.tower_modules}")
    return LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                      target_modules="|".join(f"({p})" for p in parts), modules_to_save=[PROJECTOR],
                      **settings.extra)  # fmt: skip


def apply_stage(model, stage: str, settings: LoraSettings | None = None):
    """Set what trains for `stage` ("align" or "lora"); returns the model to train (a PeftModel
    for "lora")."""
    if stage not in STAGES:
        raise MaVlmInputError(f"unknown stage {stage!r}; use one of {STAGES}")
    if stage == "align":
        model.requires_grad_(False)
        model.model.multi_modal_projector.requires_grad_(True)
        return model
    from peft import get_peft_model

    return get_peft_model(model, lora_config(settings or LoraSettings()))


def trainable_parameter_count(model) -> tuple[int, int]:
    """(trainable, total) parameters."""
    total = sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in model.parameters() if p.requires_grad), total


def load_spatial_mllm(folder: str, **kwargs):
    """A spatial MLLM from a full model folder or from a PEFT adapter folder (adapters +
    projector); for an adapter folder the base model is read from `base_model_name_or_path`
    (relative paths are resolved against the adapter folder). kwargs go to from_pretrained."""
    from transformers import AutoModelForImageTextToText

    import ma_vlm.mllm

    ma_vlm.mllm.register()  # spatial_llava into the Auto classes

    from ma_vlm.inputs import refuse_custom_code

    refuse_custom_code(folder)
    folder_path = Path(folder)
    adapter_config = folder_path / "adapter_config.json"
    if not adapter_config.exists():
        return AutoModelForImageTextToText.from_pretrained(folder, trust_remote_code=False, **kwargs)
    from peft import PeftModel

    base = json.loads(adapter_config.read_text())["base_model_name_or_path"]
    if base and not Path(base).is_absolute() and (folder_path / base).exists():
        base = str((folder_path / base).resolve())
    refuse_custom_code(base, f"the base model of {folder},")
    model = AutoModelForImageTextToText.from_pretrained(base, trust_remote_code=False, **kwargs)
    return PeftModel.from_pretrained(model, folder)
