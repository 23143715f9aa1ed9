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

from dataclasses import dataclass, field, fields
from pathlib import Path

from ma_vlm.errors import MaVlmInputError


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


def _section(cls, values: dict, name: str):
    known = {f.name for f in fields(cls)}
    unknown = set(values or {}) - known
    if unknown:
        raise MaVlmInputError(f"recipe section {name!r} has unknown keys {sorted(unknown)}; known: {sorted(known)}")
    return cls(**(values or {}))


def load_recipe(path: str) -> MllmRecipe:
    import yaml

    if not Path(path).is_file():
        raise MaVlmInputError(f"recipe {path} not found")
    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    except yaml.YAMLError as error:
        raise MaVlmInputError(f"recipe {path} is not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise MaVlmInputError(f"recipe {path} must be a YAML mapping (model:, data:, train: ...); "
                              f"see recipes/mllm_lora_tiny.yaml")
    recipe = _section(MllmRecipe, {k: v for k, v in raw.items() if k not in ("model", "data")}, "top level")
    recipe.model = _section(MllmModelRecipe, raw.get("model"), "model")
    recipe.data = _section(MllmDataRecipe, raw.get("data"), "data")
    return recipe


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


def build_model(recipe: MllmRecipe):
    """(model, processor) before the stage is applied."""
    import torch
    from transformers import AutoProcessor

    from ma_vlm.mllm.build import build_spatial_mllm, load_causal_lm, load_tower
    from ma_vlm.mllm.configuration_spatial_llava import check_vision_pyramid_level
    from ma_vlm.mllm.lora import load_spatial_mllm

    spec = recipe.model
    if spec.init_from:
        return load_spatial_mllm(spec.init_from), AutoProcessor.from_pretrained(spec.init_from, trust_remote_code=False)
    check_vision_pyramid_level(spec.vision_pyramid_level, spec.vision_feature_layer)  # before the LLM loads
    llm, tokenizer = load_causal_lm(spec.llm)
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
    items = read_conversations(recipe.data.train, recipe.data.split)
    image_folder = recipe.data.image_folder or (str(Path(recipe.data.train).parent) if Path(recipe.data.train).is_file() else None)
    dataset = ConversationDataset(items, processor, image_folder, recipe.data.max_length, recipe.data.use_images)
    if args.gradient_checkpointing:
        model.enable_input_require_grads()  # frozen embeddings: checkpointed blocks still need a grad path
    trainer = Trainer(model=model, args=args, train_dataset=dataset,
                      data_collator=ConversationCollator(processor.tokenizer.pad_token_id))  # fmt: skip
    trainer.train(resume_from_checkpoint=resume)
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
