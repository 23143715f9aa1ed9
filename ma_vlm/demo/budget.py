"""Demo budgets: the sizes of every stage, read from a YAML file (`recipes/demo/<name>.yaml`).

`tiny` is the test's budget, `small` the default of `make demo` (7 min on 2 cores), `medium` a
longer run (32 min on 2 cores). A budget is a file a user copies: `ma-vlm demo --budget my_budget.yaml`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ma_vlm.errors import MaVlmInputError
from ma_vlm.recipes import build_section, read_yaml_mapping, unknown_keys_error
from ma_vlm.resources import shipped_path

BUDGET_NAMES = ("tiny", "small", "medium")



# Every key of every section is required: a budget sizes every stage, and a typo must not
# silently fall back to a default.
@dataclass
class DataBudget:
    train: dict
    heldout: dict


@dataclass
class DepthBudget:
    teacher_recipe: str
    teacher_steps: int
    student_recipe: str
    student_steps: int
    pretrained: str | None
    eval_prompts: list


@dataclass
class PointMapBudget:
    preset: str
    steps: int


@dataclass
class MllmBudget:
    recipe: str
    steps: int
    questions_per_type: int
    eval_limit: int


@dataclass
class VlaBudget:
    tasks: list
    episodes: int
    steps: int
    eval_episodes: int


@dataclass
class Budget:
    data: DataBudget
    depth: DepthBudget
    pointmap: PointMapBudget
    mllm: MllmBudget
    vla: VlaBudget


SECTIONS = {"data": DataBudget, "depth": DepthBudget, "pointmap": PointMapBudget, "mllm": MllmBudget,
            "vla": VlaBudget}
GENERATE_KEYS = {"scenes", "seed", "camera_models", "max_side", "min_side"}


def budget_path(budget: str) -> Path:
    """`tiny|small|medium` -> the shipped recipes/demo/<name>.yaml; anything else is a YAML path."""
    path = shipped_path(f"recipes/demo/{budget}.yaml") if budget in BUDGET_NAMES else Path(budget)
    if not path.is_file():
        raise MaVlmInputError(f"--budget {budget}: no such file {path}; choose {', '.join(BUDGET_NAMES)} "
                              "or give a YAML file shaped like recipes/demo/small.yaml")
    return path


def load_budget(budget: str) -> dict:
    """The budget as a nested dict, typed by the recipe loader (`ma_vlm.recipes`): every section
    and key present, no unknown one."""
    path = budget_path(budget)
    values = read_yaml_mapping(path, "recipes/demo/small.yaml")
    for section, cls in SECTIONS.items():
        given = values.get(section)
        required = [f.name for f in fields(cls)]
        if not isinstance(given, dict):
            raise MaVlmInputError(f"{path}: section `{section}:` is missing (keys: {', '.join(required)})")
        unknown = set(given) - set(required)
        if unknown:  # before what is missing: a typo is both, and its name is the better clue
            raise MaVlmInputError(f"{path}: {unknown_keys_error(unknown, required, section)}")
        missing = sorted(set(required) - set(given))
        if missing:
            raise MaVlmInputError(f"{path}: `{section}` lacks {missing}; the keys are {', '.join(required)}")
    try:
        typed = build_section(Budget, values, "budget", nested=SECTIONS)
    except MaVlmInputError as error:
        raise MaVlmInputError(f"{path}: {error}") from None
    for split in ("train", "heldout"):
        if set(typed.data.__dict__[split]) != GENERATE_KEYS:
            raise MaVlmInputError(f"{path}: `data.{split}` needs exactly {', '.join(sorted(GENERATE_KEYS))}")
    result = asdict(typed)
    result["name"] = budget if budget in BUDGET_NAMES else path.stem
    result["path"] = str(path)
    return result


def repo_path(relative: str) -> Path:
    """A path a budget names: a shipped file (recipes/..., examples/...) or the path as given."""
    return shipped_path(relative)
