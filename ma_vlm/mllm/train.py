"""`ma-vlm train mllm --recipe FILE --output DIR`: the spatial MLLM on Transformers' Trainer.

The recipe (YAML, see recipes/mllm_lora_tiny.yaml) has four sections:
- model: `llm` (Hub id, folder, GGUF folder or "smollm2"), `tower` (a tower/depth-model folder,
  or null for a randomly initialised `tower_preset`), `projector_type`, `token_reduction`,
  `vision_feature_layer`, `vision_pyramid_level`; or `init_from`: an existing spatial MLLM folder.
- stage: "align" or "lora"; lora: `ma_vlm.mllm.lora.LoraSettings` fields.
- data: `train` (JSON/JSONL in LLaVA format, or a dataset folder / Hub id), `image_folder`
  (default: the file's folder), `max_length`, `use_images` (false = the text-only baseline).
- train: `transformers.TrainingArguments` fields as they are (batch size, steps, learning rate,
  gradient_checkpointing, deepspeed, fsdp, save_steps ...); `bf16: auto` turns bf16 on only
  where the hardware runs it natively (`ma_vlm.runtime`; MA_VLM_BF16=0|1 forces the choice).

OUTPUT/base holds the assembled model before training, OUTPUT/checkpoint-* the Trainer's
checkpoints (a rerun resumes from the last one, e.g. after kill -9), OUTPUT/adapter the PEFT
adapters + projector (lora stage), and OUTPUT/model the final full model + processor (LoRA merged),
which `ma-vlm chat`, `ma-vlm eval spatial` and lmms-eval load directly.
"""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass, field
from pathlib import Path

from ma_vlm.errors import MaVlmInputError
from ma_vlm.recipes import apply_overrides, build_section, check_dataclass_keys, check_ranges, read_yaml_mapping


@dataclass
class MllmModelRecipe:
    llm: str = "smollm2"
    tower: str | None = None
    tower_preset: str = "small"
    projector_type: str = "mlp"
    token_reduction: int = 1
    vision_feature_layer: int | list[int] = -1
    vision_pyramid_level: int = 2  # 2: the whole-image tile (as published); 1, 0: finer merged tiles
    init_from: str | None = None
    seed: int = 0  # seeds the new projector (and a random tower)


@dataclass
class MllmDataRecipe:
    train: str = ""
    split: str = "train"
    image_folder: str | None = None
    max_length: int = 1024
    use_images: bool = True


@dataclass
class MllmRecipe:
    model: MllmModelRecipe = field(default_factory=MllmModelRecipe)
    stage: str = "lora"
    lora: dict = field(default_factory=dict)
    data: MllmDataRecipe = field(default_factory=MllmDataRecipe)
    train: dict = field(default_factory=dict)


_SECTIONS = {"model": MllmModelRecipe, "data": MllmDataRecipe}
SECTION_NAMES = ("model", "stage", "lora", "data", "train")


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


_RANGES = {
    ("model", "token_reduction"): (lambda v: v >= 1, ">= 1"),
    ("data", "max_length"): (lambda v: v >= 1, ">= 1"),
    ("train", "per_device_train_batch_size"): (lambda v: v >= 1, ">= 1"),
    ("train", "gradient_accumulation_steps"): (lambda v: v >= 1, ">= 1"),
    ("train", "max_steps"): (lambda v: v >= 1 or v == -1, ">= 1 (or -1 with num_train_epochs)"),
    ("train", "num_train_epochs"): (_positive, "a positive number"),
    ("train", "learning_rate"): (_positive, "a positive number"),
    ("train", "weight_decay"): (lambda v: math.isfinite(v) and v >= 0, ">= 0"),
    ("train", "warmup_steps"): (lambda v: v >= 0, ">= 0"),
    ("train", "logging_steps"): (_positive, "> 0"),
    ("train", "save_steps"): (_positive, "> 0"),
    ("lora", "rank"): (lambda v: v >= 1, ">= 1"),
    ("lora", "dropout"): (lambda v: 0 <= v < 1, "in [0, 1)"),
}


def validate_recipe(recipe: MllmRecipe) -> MllmRecipe:
    """Types, ranges and known keys of every section, before anything heavy loads: `train` keys
    are `transformers.TrainingArguments` fields, `lora` keys `LoraSettings` fields."""
    from transformers import TrainingArguments

    from ma_vlm.mllm.lora import STAGES, LoraSettings
    from ma_vlm.mllm.projector import PROJECTOR_TYPES

    if recipe.model.projector_type not in PROJECTOR_TYPES:
        raise MaVlmInputError(f"recipe key model.projector_type must be one of {', '.join(PROJECTOR_TYPES)}, "
                              f"got {recipe.model.projector_type!r}")
    if recipe.stage not in STAGES:
        raise MaVlmInputError(f"recipe key stage must be one of {', '.join(STAGES)}, got {recipe.stage!r}")
    if not isinstance(recipe.train, dict) or not isinstance(recipe.lora, dict):
        raise MaVlmInputError("recipe sections lora: and train: must be mappings")
    check_dataclass_keys(recipe.train, TrainingArguments, "train", free=("bf16",))
    check_dataclass_keys(recipe.lora, LoraSettings, "lora")
    for key in ("output_dir",):
        if key in recipe.train:
            raise MaVlmInputError(f"recipe key train.{key} is set by --output; remove it from the recipe")
    check_ranges(recipe, _RANGES)
    if not recipe.model.init_from:
        from ma_vlm.mllm.configuration_spatial_llava import check_vision_pyramid_level

        check_vision_pyramid_level(recipe.model.vision_pyramid_level, recipe.model.vision_feature_layer)
    return recipe


def recipe_from_dict(values: dict, overrides: list[str] = ()) -> MllmRecipe:
    values = apply_overrides(values or {}, list(overrides), SECTION_NAMES)
    return validate_recipe(build_section(MllmRecipe, values, "recipe", nested=_SECTIONS))


def load_recipe(path: str, overrides: list[str] = ()) -> MllmRecipe:
    """Read a YAML recipe (see recipes/mllm_lora_tiny.yaml), with `--set SECTION.KEY=VALUE` overrides."""
    return recipe_from_dict(read_yaml_mapping(path, "recipes/mllm_lora_tiny.yaml"), overrides)


def resolve_bf16(train: dict) -> dict:
    """The recipe's `train` section with `bf16` decided: `auto` becomes bf16 where it is native
    (`ma_vlm.runtime.bf16_is_native`, forced by MA_VLM_BF16), and a CPU run gets `use_cpu`.

    Transformers refuses bf16 on a CPU unless `use_cpu` is set, and accelerate turns DeepSpeed
    off under `use_cpu`; so DeepSpeed on CPU processes trains in fp32: `auto` says so in one
    line, and an explicit `bf16: true` is refused with the way out."""
    import torch

    from ma_vlm.runtime import BF16_SWITCH, bf16_is_native, bf16_reason, deepspeed_on_cpu

    train = dict(train)
    bf16 = train.get("bf16", False)
    if bf16 not in (True, False, "auto"):
        raise MaVlmInputError(f"train.bf16 is {bf16!r}; give true, false or auto")
    if deepspeed_on_cpu(bool(train.get("deepspeed"))):
        if bf16 is True:
            raise MaVlmInputError("train.bf16 is true, but DeepSpeed on CPU processes trains in fp32 only "
                                  "(Transformers needs use_cpu for bf16 on a CPU, and accelerate turns DeepSpeed off "
                                  f"under use_cpu); set train.bf16: auto or false (or {BF16_SWITCH}=0)")
        if bf16 == "auto" and bf16_is_native():
            print(f"bf16: off, DeepSpeed on CPU processes trains in fp32 (bf16 would be native: {bf16_reason()})")
        train["bf16"] = False
        return train
    if bf16 == "auto":
        train["bf16"] = bf16_is_native()
        print(f"bf16: {'on' if train['bf16'] else 'off'} ({bf16_reason()}; {BF16_SWITCH}=0 or 1 forces it)")
    if train.get("bf16") and not torch.cuda.is_available():
        train["use_cpu"] = True  # Transformers' condition for bf16 without a GPU
    return train


def check_model_folders(spec: MllmModelRecipe) -> None:
    """`init_from`, `tower` and `llm` name usable folders of the right kind (or Hub ids), checked
    before anything loads: the LLM alone takes minutes to load."""
    from ma_vlm.model_folders import DEPTH_MODEL, LANGUAGE_MODEL, SPATIAL_MLLM, check_model_folder

    if spec.init_from:
        check_model_folder(spec.init_from, "model.init_from", SPATIAL_MLLM)
        return
    if spec.tower:
        check_model_folder(spec.tower, "model.tower", DEPTH_MODEL)
    llm = Path(spec.llm)
    if spec.llm != "smollm2" and not (llm.is_dir() and any(llm.glob("*.gguf")) and not (llm / "config.json").exists()):
        check_model_folder(spec.llm, "model.llm", LANGUAGE_MODEL)


def build_model(recipe: MllmRecipe):
    """(model, processor) before the stage is applied."""
    import torch
    from transformers import AutoProcessor

    from ma_vlm.mllm.build import build_spatial_mllm, load_causal_lm, load_tower
    from ma_vlm.mllm.configuration_spatial_llava import check_vision_pyramid_level
    from ma_vlm.mllm.lora import load_spatial_mllm

    spec = recipe.model
    from ma_vlm.model_folders import load_failure

    check_model_folders(spec)
    if spec.init_from:
        return load_spatial_mllm(spec.init_from), AutoProcessor.from_pretrained(spec.init_from, trust_remote_code=False)
    check_vision_pyramid_level(spec.vision_pyramid_level, spec.vision_feature_layer)  # before the LLM loads
    try:
        llm, tokenizer = load_causal_lm(spec.llm)
    except (OSError, ValueError) as error:
        raise load_failure("model.llm", spec.llm, error) from None
    torch.manual_seed(spec.seed)
    tower = load_tower(spec.tower, spec.tower_preset)
    return build_spatial_mllm(llm, tower, tokenizer, spec.projector_type, spec.token_reduction,
                              spec.vision_feature_layer, vision_pyramid_level=spec.vision_pyramid_level)  # fmt: skip


def training_arguments(recipe: MllmRecipe, output: str):
    from transformers import TrainingArguments

    args = {"per_device_train_batch_size": 1, "logging_steps": 1, "save_steps": 50, "report_to": [],
            "save_total_limit": 2, **resolve_bf16(recipe.train)}  # fmt: skip
    if args.get("gradient_checkpointing"):
        args.setdefault("gradient_checkpointing_kwargs", {"use_reentrant": False})
    args.update(output_dir=output, remove_unused_columns=False)  # images are not model columns
    return TrainingArguments(**args)


def _resume_point(output: str) -> str | None:
    """The newest complete OUTPUT/checkpoint-N, or None. The Trainer writes a checkpoint's files
    in place and trainer_state.json last, so a run killed mid-save leaves a folder without a
    readable state: it is skipped and removed (the rerun writes that step again), where
    Transformers' get_last_checkpoint would pick it and fail on resume."""
    import json
    import shutil

    from transformers.trainer_utils import sort_checkpoints

    if not Path(output).is_dir():
        return None
    for folder in map(Path, reversed(sort_checkpoints(output))):  # newest step first
        try:
            state = json.loads((folder / "trainer_state.json").read_text())
            if folder.name == f"checkpoint-{state.get('global_step')}":
                return str(folder)
        except (OSError, ValueError):
            pass
        print(f"{folder} was cut off while being written (no complete trainer_state.json); removing it")
        shutil.rmtree(folder, ignore_errors=True)  # every rank of a launch may get here
    return None


def train_mllm(recipe: MllmRecipe, output: str) -> str:
    """Train as the recipe says; returns the final model folder (OUTPUT/model). The process is
    left as it was found (`ma_vlm.runtime.isolated_run`)."""
    from ma_vlm.runtime import isolated_run

    with isolated_run():
        return _train_mllm(recipe, output)


def _train_mllm(recipe: MllmRecipe, output: str) -> str:
    from transformers import Trainer

    from ma_vlm.mllm.data import ConversationCollator, ConversationDataset, read_conversations
    from ma_vlm.mllm.lora import LoraSettings, apply_stage, trainable_parameter_count

    if not recipe.data.train:
        raise MaVlmInputError("the recipe needs data.train: a LLaVA-format JSON/JSONL file or a dataset")
    check_model_folders(recipe.model)
    items = read_conversations(recipe.data.train, recipe.data.split)  # a bad line is named before models load
    out = Path(output)
    resume = _resume_point(output)
    base = out / "base"
    if resume and base.exists():  # the projector's random init must be the one the checkpoint started from
        recipe.model.init_from = str(base)
    import os

    args = training_arguments(recipe, output)
    # The launcher's rank (torchrun, accelerate and deepspeed all set RANK). Every rank builds the
    # same model (seeded); only rank 0 writes. Neither TrainingArguments nor accelerate's
    # PartialState knew the ranks at this point under a DeepSpeed launch (both said "main").
    is_main = int(os.environ.get("RANK", "0")) == 0
    model, processor = build_model(recipe)
    if is_main and not (base / "config.json").exists():
        save_folder(base, model, processor)
    model.config._name_or_path = str(base.resolve())  # what the adapter records as its base
    model = apply_stage(model, recipe.stage, LoraSettings(**recipe.lora))
    trainable, total = trainable_parameter_count(model)
    print(f"stage {recipe.stage}: {trainable:,} of {total:,} parameters train")
    image_folder = recipe.data.image_folder or (str(Path(recipe.data.train).parent) if Path(recipe.data.train).is_file() else None)
    dataset = ConversationDataset(items, processor, image_folder, recipe.data.max_length, recipe.data.use_images)
    if args.gradient_checkpointing:
        model.enable_input_require_grads()  # frozen embeddings: checkpointed blocks still need a grad path
    trainer = Trainer(model=model, args=args, train_dataset=dataset,
                      data_collator=ConversationCollator(processor.tokenizer.pad_token_id))  # fmt: skip
    try:
        trainer.train(resume_from_checkpoint=resume)
    except pickle.UnpicklingError as error:  # weights_only loading refused a file of the checkpoint
        message = " ".join(str(error).split())[:200]
        raise MaVlmInputError(f"checkpoint {resume} holds a file that safe loading refuses ({message}); remove that "
                              "checkpoint folder to resume from an earlier one, or train into a new --output") from None
    if is_main:
        save_final(trainer.model, processor, out)
    return str(out / "model")


def save_folder(folder: Path, model, processor=None) -> None:
    """save_pretrained into a temporary sibling folder, then rename it into place, so a killed
    run never leaves a half-written model folder."""
    import os
    import shutil

    staging = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    model.save_pretrained(staging)
    if processor is not None:
        processor.save_pretrained(staging)
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(staging, folder)


def save_final(model, processor, out: Path) -> None:
    """OUTPUT/adapter (lora stage: adapters + projector, base recorded as ../base) and
    OUTPUT/model (the full model with LoRA merged, and the processor)."""
    if hasattr(model, "merge_and_unload"):
        for config in model.peft_config.values():
            config.base_model_name_or_path = "../base"  # relative: the output folder can move
        save_folder(out / "adapter", model)
        model = model.merge_and_unload()
    save_folder(out / "model", model, processor)
