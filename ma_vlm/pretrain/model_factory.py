"""The depth model a recipe describes: a preset with overrides, a model folder (`init_from`), and/or
DINOv3 backbone weights; every key checked before anything is built.

`build_model(recipe.model)` is what `ma-vlm pretrain` and `ma-vlm distill` train.
"""

from __future__ import annotations

import torch

from ma_vlm.errors import MaVlmInputError
from ma_vlm.model_folders import DEPTH_MODEL, check_model_folder
from ma_vlm.pretrain.recipe import ModelRecipe


def check_model_folders(model_recipe: ModelRecipe, teacher_dir: str | None = None) -> None:
    """The recipe's `init_from` and the `--teacher` folder are depth-model folders, checked
    before the run folder is made or anything loads."""
    if teacher_dir is not None:
        check_model_folder(teacher_dir, "--teacher", DEPTH_MODEL, hub=False)
    if model_recipe.init_from and model_recipe.init_from != "teacher":
        check_model_folder(model_recipe.init_from, "model.init_from", DEPTH_MODEL, hub=False)


def build_model(model_recipe: ModelRecipe, teacher_dir: str | None = None):
    """A `MetricAnythingForDepthEstimation` from a preset (+ overrides), a model folder
    (`init_from`; "teacher" = the distillation teacher's folder), and/or DINOv3 backbone weights."""
    from ma_vlm.models.metric_anything import MetricAnythingForDepthEstimation, preset_config
    from ma_vlm.models.metric_anything.presets import PRESETS

    init_from = teacher_dir if model_recipe.init_from == "teacher" else model_recipe.init_from
    check_config_overrides(model_recipe.overrides)
    if init_from:
        check_model_folder(init_from, "model.init_from", DEPTH_MODEL, hub=False)
        # A student folder loads into a teacher (prompt layers start at zero) and vice versa.
        model = MetricAnythingForDepthEstimation.from_pretrained(init_from, use_prompt=model_recipe.use_prompt)
        head_activation = model_recipe.overrides.get("head_activation", model.config.head_activation)
        changed = overrides_that_change(model.config, {k: v for k, v in model_recipe.overrides.items()
                                                       if k != "head_activation"})
        if changed:
            raise MaVlmInputError(
                f"model.overrides {changed} differ from {init_from}'s config: with model.init_from only "
                "head_activation can change (the loaded weights fix the rest); drop them or set init_from: null"
            )
        if head_activation != model.config.head_activation:
            switch_head_activation(model, head_activation)
        return model
    overrides = dict(model_recipe.overrides)
    if model_recipe.preset not in PRESETS:
        raise MaVlmInputError(f"model.preset {model_recipe.preset!r}: choose one of {sorted(PRESETS)}")
    if isinstance(overrides.get("backbone_config"), dict):
        base = dict(PRESETS[model_recipe.preset].get("backbone_config") or {})
        overrides["backbone_config"] = {**base, **overrides["backbone_config"]}
    overrides.setdefault("head_init_canonical_inverse_depth", model_recipe.initial_canonical_inverse_depth)
    config = preset_config(model_recipe.preset, use_prompt=model_recipe.use_prompt, **overrides)
    config.validate_architecture()
    # The training init is the model's own (`_init_weights`): nothing is re-initialised here.
    model = MetricAnythingForDepthEstimation(config)
    if model_recipe.backbone_from:
        load_backbone_weights(model, model_recipe.backbone_from)
    return model


def overrides_that_change(config, overrides: dict, prefix: str = "") -> list[str]:
    """Keys of `overrides` (nested `backbone_config` too) whose value differs from `config`'s."""
    changed = []
    for key, value in overrides.items():
        current = getattr(config, key, None)
        if isinstance(value, dict):
            changed += overrides_that_change(current, value, f"{prefix}{key}.")
        elif (list(value) if isinstance(value, (list, tuple)) else value) != (
                list(current) if isinstance(current, (list, tuple)) else current):
            changed.append(f"{prefix}{key}")
    return changed


def switch_head_activation(model, head_activation: str) -> None:
    """Gives a loaded model another final activation ("relu" / "exp"): every layer keeps its
    weights except the head's last conv, which starts again from a constant prediction (the
    config's `head_init_canonical_inverse_depth`), as a fresh model's does."""
    from ma_vlm.models.metric_anything.decoder import head_activation_module
    from ma_vlm.models.metric_anything.modeling_metric_anything import head_output_bias

    activation = head_activation_module(head_activation)  # checks the name before anything changes
    model.config.head_activation = head_activation
    last = model.head[-2]
    with torch.no_grad():  # not transformers' init.*: it skips weights loaded from a folder
        last.weight.zero_()
        last.bias.fill_(head_output_bias(model.config))
    model.head[-1] = activation


def check_config_overrides(overrides: dict) -> None:
    """A typo in `model.overrides` (or its `backbone_config`) is an error naming the key, not an
    unused attribute silently written into config.json."""
    import difflib
    from dataclasses import fields

    from ma_vlm.models.metric_anything.configuration_metric_anything import (
        MetricAnythingConfig,
        MetricAnythingViTConfig,
    )

    def check(values: dict, config_class, where: str) -> None:
        known = {f.name for f in fields(config_class)} | {"model_type"}
        for key in values:
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f"; did you mean {close[0]}?" if close else f"; known: {sorted(known)}"
                raise MaVlmInputError(f"recipe key {where}.{key} is not a {config_class.__name__} field{hint}")

    check(overrides, MetricAnythingConfig, "model.overrides")
    if isinstance(overrides.get("backbone_config"), dict):
        check(overrides["backbone_config"], MetricAnythingViTConfig, "model.overrides.backbone_config")


def load_backbone_weights(model, source: str) -> None:
    """Copy a Transformers DINOv3 ViT checkpoint (folder or Hub id) into the tower's backbone."""
    from transformers import DINOv3ViTModel

    state = DINOv3ViTModel.from_pretrained(source).state_dict()
    own = model.model.backbone.state_dict()
    mismatched = [k for k in own if k not in state or state[k].shape != own[k].shape]
    if mismatched:
        raise MaVlmInputError(
            f"{source} does not match the recipe's backbone ({len(mismatched)} keys differ, e.g. {mismatched[:3]}); "
            "use the preset whose ViT size equals the checkpoint's"
        )
    model.model.backbone.load_state_dict(state)
