"""Which models the page runs, where they came from, and loading them.

Each role (depth model, point-map model, teacher, spatial MLLM) takes, in order: the folder its
flag names; `make pretrain-small`'s folder (outputs/pretrain-small/{student,teacher}/model); the
demo's folder (outputs/demo: models.json, pointmap/, mllm/depth_tower/model). Folders are checked
with `check_model_folder` before anything loads; a folder that fails the check (missing, wrong
kind, damaged) becomes one line in the page and its tab says it, while the other tabs serve.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ma_vlm.errors import MaVlmInputError
from ma_vlm.model_folders import DEPTH_MODEL, POINTMAP_MODEL, SPATIAL_MLLM, ModelKind, check_model_folder

PRETRAIN_SMALL = Path("outputs/pretrain-small")
DEMO = Path("outputs/demo")


@dataclass(frozen=True)
class Role:
    """One model the page can use: its flag, kind, what it does in the page, and the one
    command of this checkout that makes it."""

    name: str
    flag: str
    kind: ModelKind
    used_for: str
    make: str


ROLES = {
    "depth": Role("depth", "--model", DEPTH_MODEL, "Depth tab", "make pretrain-small"),
    "pointmap": Role("pointmap", "--pointmap", POINTMAP_MODEL, "Camera tab, and cameras nobody gave", "make demo"),
    "teacher": Role("teacher", "--teacher", DEPTH_MODEL, "Completion tab", "make pretrain-small"),
    "mllm": Role("mllm", "--mllm", SPATIAL_MLLM, "Spatial chat tab", "make demo"),
}


@dataclass
class ModelChoice:
    """A role's folder (None: none found), where it was found, what it was trained on, and the
    loaded model (None until `load`) or the one line saying why it cannot be used."""

    role: Role
    folder: Path | None = None
    origin: str = ""
    trained_on: str = ""
    problem: str | None = None
    loaded: object = field(default=None, repr=False)

    def require(self):
        """The loaded model, or the page's one line: why this role has none and how to get one."""
        if self.loaded is not None:
            return self.loaded
        if self.problem is not None:
            raise MaVlmInputError(self.problem)
        raise MaVlmInputError(f"no {self.role.kind.name} for the {self.role.used_for}: run `{self.role.make}`, or "
                              f"start the page with `ma-vlm app {self.role.flag} DIR`")


def _demo_folders(root: Path) -> dict[str, Path]:
    folders = {"pointmap": root / DEMO / "pointmap", "mllm": root / DEMO / "mllm" / "depth_tower" / "model"}
    try:
        recorded = json.loads((root / DEMO / "models.json").read_text())
    except (OSError, ValueError):
        recorded = {}
    if isinstance(recorded, dict):
        folders.update({role: root / recorded[key] for role, key in (("depth", "student"), ("teacher", "teacher"))
                        if isinstance(recorded.get(key), str)})
    return folders


def discover(flags: dict[str, str | None], root: Path = Path(".")) -> dict[str, ModelChoice]:
    """A `ModelChoice` per role: the flag's folder, else pretrain-small's, else the demo's."""
    found = {
        "pretrain-small": {"depth": root / PRETRAIN_SMALL / "student" / "model",
                           "teacher": root / PRETRAIN_SMALL / "teacher" / "model"},
        "demo": _demo_folders(root),
    }
    choices = {}
    for name, role in ROLES.items():
        choice = ModelChoice(role)
        if flags.get(name):
            choice.folder, choice.origin = Path(flags[name]), f"{role.flag} {flags[name]}"
        else:
            for origin, folders in found.items():
                folder = folders.get(name)
                if folder is not None and (folder / "config.json").is_file():
                    choice.folder, choice.origin = folder, f"`make {origin}` ({folder})"
                    break
        if choice.folder is not None:
            try:
                check_model_folder(choice.folder, role.flag, role.kind, hub=False)
            except MaVlmInputError as error:
                choice.problem = str(error)
            choice.trained_on = trained_on(choice.folder)
        choices[name] = choice
    if choices["teacher"].loaded is None and choices["teacher"].problem is None:
        _check_teacher(choices["teacher"])
    return choices


def _check_teacher(choice: ModelChoice) -> None:
    """A teacher is a depth model that reads a prompt (config use_prompt)."""
    if choice.folder is None:
        return
    try:
        config = json.loads((choice.folder / "config.json").read_text())
    except (OSError, ValueError):
        return
    if not config.get("use_prompt", False):
        choice.problem = (f"--teacher {choice.folder} is a prompt-free depth model; the Completion tab needs a teacher "
                          "(`ma-vlm pretrain` output, config use_prompt=True)")


def trained_on(folder: Path) -> str:
    """What a model folder's run says it was trained on: recipe.yaml / summary.json of its run
    folder (a `ma-vlm pretrain` / `distill` / `train mllm` output is RUN/model), else ""."""
    import yaml

    for run in (folder.parent, folder):
        facts = []
        try:
            recipe = yaml.safe_load((run / "recipe.yaml").read_text()) or {}
        except (OSError, yaml.YAMLError):
            recipe = {}
        if isinstance(recipe, dict):
            data = recipe.get("data") if isinstance(recipe.get("data"), dict) else {}
            source = data.get("path") or data.get("train") or data.get("dataset")
            if source:
                facts.append(f"data {source}")
            generated = data.get("generate") if isinstance(data.get("generate"), dict) else {}
            if generated.get("scenes"):
                facts.append(f"{generated['scenes']} rendered scenes")
            if data.get("prompt"):
                facts.append(f"prompts {data['prompt']}")
            train = recipe.get("train") if isinstance(recipe.get("train"), dict) else {}
            if train.get("max_steps"):
                facts.append(f"{train['max_steps']} steps")
        try:
            summary = json.loads((run / "summary.json").read_text())
        except (OSError, ValueError):
            summary = {}
        if isinstance(summary, dict):
            if summary.get("data"):
                facts.append(f"data {summary['data']}")
            if summary.get("step"):
                facts.append(f"{summary['step']} steps run")
            if isinstance(summary.get("last_loss"), (int, float)):
                facts.append(f"final loss {summary['last_loss']:.3f}")
        if facts:
            return ", ".join(dict.fromkeys(facts))
    return ""


def load(choices: dict[str, ModelChoice], device: str = "cpu") -> None:
    """Load every role whose folder passed the check; a failed load becomes its `problem`."""
    loaders = {"depth": _load_depth, "teacher": _load_depth, "pointmap": _load_pointmap, "mllm": _load_mllm}
    for name, choice in choices.items():
        if choice.folder is None or choice.problem is not None:
            continue
        try:
            choice.loaded = loaders[name](str(choice.folder), choice.role.flag, device)
        except MaVlmInputError as error:
            choice.problem = str(error)


@dataclass
class DepthModel:
    """A Metric Anything depth model and its image processor, as `ma-vlm depth` loads them."""

    model: object
    processor: object


def _load_depth(folder: str, flag: str, device: str) -> DepthModel:
    from ma_vlm.depth.inference import load_depth_model
    from ma_vlm.models.metric_anything import MetricAnythingImageProcessor

    return DepthModel(load_depth_model(folder, flag=flag).to(device), MetricAnythingImageProcessor.from_pretrained(folder))


def _load_pointmap(folder: str, flag: str, device: str):
    from ma_vlm.pointmap.inference import PointMapEstimator

    try:
        return PointMapEstimator(folder, device)
    except MaVlmInputError as error:  # its messages name --model, the page's flag is --pointmap
        raise MaVlmInputError(str(error).replace("--model", flag, 1)) from None


def _load_mllm(folder: str, flag: str, device: str):
    from ma_vlm.mllm.chat import load_chat_model

    model, processor = load_chat_model(folder, flag)
    return model.to(device), processor


def describe(choices: dict[str, ModelChoice]) -> str:
    """Markdown for the page: per role, the folder and origin and what it was trained on, or why
    there is none and the one command that makes it."""
    lines = ["| model | used by | folder | trained on |", "|---|---|---|---|"]
    for choice in choices.values():
        role = choice.role
        if choice.loaded is not None:
            lines.append(f"| {role.kind.name} | {role.used_for} | {choice.origin} | {choice.trained_on or 'not recorded'} |")
        elif choice.problem is not None:
            lines.append(f"| {role.kind.name} | {role.used_for} | **not usable**: {choice.problem} | |")
        else:
            lines.append(f"| {role.kind.name} | {role.used_for} | **none found**: run `{role.make}` "
                         f"(or `ma-vlm app {role.flag} DIR`) | |")
    if all(choice.loaded is None for choice in choices.values()):
        lines.append("\nNo model found in this checkout. **`make demo`** makes every one of them "
                     "(outputs/demo/); `make pretrain-small` makes a better depth model and teacher.")
    return "\n".join(lines)
