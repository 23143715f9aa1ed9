"""The report's full-scale commands name only files that exist here, and every recipe loads."""

import re

import pytest
import yaml

from ma_vlm.demo.budget import repo_path
from ma_vlm.demo.report_sections import FULL_SCALE

RECIPE_PATH = re.compile(r"recipes/[\w./-]+\.(?:yaml|json)")


def _named_paths() -> list[str]:
    """Every recipes/... path of the full-scale section: the recipe fields and inside the commands."""
    names = {recipe for _, recipe, _ in FULL_SCALE if recipe}
    for _, _, command in FULL_SCALE:
        names.update(RECIPE_PATH.findall(command))
    return sorted(names)


def _load(relative: str):
    """The loader the command uses: MLLM recipes, accelerate configs, or depth pretraining recipes."""
    path = repo_path(relative)
    if relative.startswith("recipes/accelerate/"):
        values = yaml.safe_load(path.read_text())
        deepspeed_json = (values.get("deepspeed_config") or {}).get("deepspeed_config_file")
        if deepspeed_json:  # what accelerate reads next; relative to the repository root
            assert repo_path(deepspeed_json).is_file(), f"{relative} points at missing {deepspeed_json}"
        return values
    if relative.startswith("recipes/mllm_"):
        from ma_vlm.mllm.train import load_recipe
    else:
        from ma_vlm.pretrain.recipe import load_recipe
    return load_recipe(path)


def test_the_section_names_the_distillation_recipe():
    assert "recipes/distill_student_full.yaml" in _named_paths()


@pytest.mark.parametrize("relative", _named_paths())
def test_every_named_recipe_exists_and_loads(relative):
    assert repo_path(relative).is_file(), f"the report's full-scale section names {relative}, which does not exist"
    assert _load(relative) is not None


def test_full_scale_student_pairs_with_the_full_teacher():
    from ma_vlm.pretrain.recipe import load_recipe

    teacher = load_recipe(repo_path("recipes/pretrain_teacher_full.yaml"))
    student = load_recipe(repo_path("recipes/distill_student_full.yaml"))
    assert (student.model.use_prompt, student.model.init_from) == (False, "teacher")
    assert student.train.mixed_precision == teacher.train.mixed_precision == "bf16"
    # the DeepSpeed JSON fixes the per-GPU batch and accumulation for both runs
    assert (student.train.batch_size, student.train.gradient_accumulation_steps) == (
        teacher.train.batch_size, teacher.train.gradient_accumulation_steps)
    assert student.accelerate_config == teacher.accelerate_config
