"""Demo budgets: the sizes of every stage, read from a YAML file (`recipes/demo/<name>.yaml`).

`tiny` is the test's budget, `small` the default of `make demo` (7 min on 2 cores), `medium` a
longer run (32 min on 2 cores). A budget is a file a user copies: `ma-vlm demo --budget my_budget.yaml`.
"""

from __future__ import annotations

from pathlib import Path

from ma_vlm.errors import MaVlmInputError

BUDGET_NAMES = ("tiny", "small", "medium")
REPO_ROOT = Path(__file__).resolve().parents[2]

# The keys each section takes (unknown keys are errors: a typo must not silently use a default).
SCHEMA = {
    "data": {"train": dict, "heldout": dict},
    "depth": {"teacher_recipe": str, "teacher_steps": int, "student_recipe": str, "student_steps": int,
              "pretrained": (str, type(None)), "eval_prompts": list},
    "pointmap": {"preset": str, "steps": int},
    "mllm": {"recipe": str, "steps": int, "questions_per_type": int, "eval_limit": int},
    "vla": {"tasks": list, "episodes": int, "steps": int, "eval_episodes": int},
}
GENERATE_KEYS = {"scenes", "seed", "camera_models", "max_side", "min_side"}


def budget_path(budget: str) -> Path:
    """`tiny|small|medium` -> recipes/demo/<name>.yaml; anything else is a YAML path."""
    path = REPO_ROOT / "recipes" / "demo" / f"{budget}.yaml" if budget in BUDGET_NAMES else Path(budget)
    if not path.is_file():
        raise MaVlmInputError(f"--budget {budget}: no such file {path}; choose {', '.join(BUDGET_NAMES)} "
                              "or give a YAML file shaped like recipes/demo/small.yaml")
    return path


def load_budget(budget: str) -> dict:
    """The budget as a nested dict, checked against SCHEMA (every section and key present)."""
    import yaml

    path = budget_path(budget)
    values = yaml.safe_load(path.read_text()) or {}
    for section, keys in SCHEMA.items():
        given = values.get(section)
        if not isinstance(given, dict):
            raise MaVlmInputError(f"{path}: section `{section}:` is missing (keys: {', '.join(keys)})")
        unknown, missing = set(given) - set(keys), set(keys) - set(given)
        if unknown or missing:
            raise MaVlmInputError(f"{path}: `{section}` has unknown keys {sorted(unknown)} / lacks "
                                  f"{sorted(missing)}; the keys are {', '.join(keys)}")
        for key, kind in keys.items():
            if not isinstance(given[key], kind) or isinstance(given[key], bool):
                raise MaVlmInputError(f"{path}: `{section}.{key}` is {given[key]!r}; expected {kind}")
    for split in ("train", "heldout"):
        if set(values["data"][split]) != GENERATE_KEYS:
            raise MaVlmInputError(f"{path}: `data.{split}` needs exactly {', '.join(sorted(GENERATE_KEYS))}")
    unknown_sections = set(values) - set(SCHEMA)
    if unknown_sections:
        raise MaVlmInputError(f"{path}: unknown sections {sorted(unknown_sections)}")
    values["name"] = budget if budget in BUDGET_NAMES else path.stem
    values["path"] = str(path)
    return values


def repo_path(relative: str) -> Path:
    """A budget's path (recipes/...) resolved against the repository root."""
    path = Path(relative)
    return path if path.is_absolute() else REPO_ROOT / path
