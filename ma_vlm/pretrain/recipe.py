"""Training recipes: YAML files a user copies, read into dataclasses.

One recipe format serves the tiny CPU smoke run and the full GPU run; only values change.
Unknown keys are errors (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from ma_vlm.errors import MaVlmInputError
from ma_vlm.recipes import apply_overrides, build_section, check_ranges, read_yaml_mapping


@dataclass
class ModelRecipe:
    """preset: `ma_vlm.models.metric_anything.presets` name; overrides: config fields (a `backbone_config`
    dict merges into the preset's); init_from: a model folder (converted student or teacher,
    loaded with this recipe's `use_prompt`) or None; backbone_from: a Transformers DINOv3 folder
    or Hub id whose ViT weights initialise the backbone (ignored with init_from).
    initial_canonical_inverse_depth: from scratch, the value the head's first predictions are
    initialised to (0.5: ~2 m at a 53 degree field of view; the config's
    `head_init_canonical_inverse_depth`, see `MetricAnythingPreTrainedModel._init_weights`)
    instead of ~1e-5, which the 1e-3 1/m clamp would turn into 1000 m with no gradient."""

    preset: str = "tiny"
    overrides: dict = field(default_factory=dict)
    use_prompt: bool = True
    init_from: str | None = None
    backbone_from: str | None = None
    gradient_checkpointing: bool = False
    initial_canonical_inverse_depth: float = 0.5


@dataclass
class DataRecipe:
    """path: a folder from `ma-vlm data generate` / a saved dataset / a Hub id, or None to render
    `generate` into OUTPUT/data. sources: noisy-source views and their mixing weights ("render"
    is the clean depth). prompt: sparse-prompt spec for the teacher ("default" = the paper-style
    mixture `ma_vlm.data.sparse_prompts.default_prompt_mixture`)."""

    path: str | None = None
    generate: dict = field(default_factory=lambda: {"scenes": 32, "seed": 0, "camera_models": 16,
                                                    "max_side": 96, "min_side": 80})
    sources: dict = field(default_factory=lambda: {"render": 1.0})
    prompt: str = "default"
    streaming: bool = False
    shuffle_buffer: int = 1000


@dataclass
class TrainRecipe:
    seed: int = 0
    max_steps: int = 40
    batch_size: int = 2  # per device
    gradient_accumulation_steps: int = 1
    learning_rate: float = 3e-4
    backbone_learning_rate: float | None = None  # None: same as learning_rate
    weight_decay: float = 0.01
    warmup_steps: int = 5
    max_grad_norm: float = 1.0
    mixed_precision: str = "no"  # "no" | "bf16" | "fp16" | "auto" (bf16 where native: ma_vlm.runtime, MA_VLM_BF16)
    log_every: int = 1
    save_every: int = 20
    num_workers: int = 0


@dataclass
class LossRecipe:
    variance_focus: float = 0.85
    gradient_weight: float = 0.5
    num_scales: int = 4


@dataclass
class DistillRecipe:
    """Student training: targets are the teacher's depth given a prompt sampled from the noisy
    source (`teacher_prompt`); `ground_truth_weight` adds the ground-truth loss on clean samples."""

    teacher_prompt: str = "default"
    ground_truth_weight: float = 1.0


@dataclass
class ScalingRecipe:
    """Train once per entry of `scene_counts` (and/or `camera_models`), evaluate on `eval_data`."""

    scene_counts: list = field(default_factory=lambda: [8, 24, 72])
    camera_models: list | None = None
    eval_generate: dict = field(default_factory=lambda: {"scenes": 12, "seed": 1000, "camera_models": 1000,
                                                         "max_side": 96, "min_side": 80})
    eval_prompts: list = field(default_factory=lambda: ["none", "grid:8"])
    # One run per seed (None: train.seed only): the spread over seeds is the error bar that tells
    # a trend from noise.
    seeds: list | None = None
    # A distillation recipe (path): each run then also distils a prompt-free student from its
    # teacher on the same data, scored without a prompt.
    student_recipe: str | None = None


@dataclass
class Recipe:
    model: ModelRecipe = field(default_factory=ModelRecipe)
    data: DataRecipe = field(default_factory=DataRecipe)
    train: TrainRecipe = field(default_factory=TrainRecipe)
    loss: LossRecipe = field(default_factory=LossRecipe)
    distill: DistillRecipe = field(default_factory=DistillRecipe)
    scaling: ScalingRecipe = field(default_factory=ScalingRecipe)
    accelerate_config: str | None = None  # documentation: the `accelerate launch --config_file` to use
    source_path: str | None = None

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


_SECTIONS = {"model": ModelRecipe, "data": DataRecipe, "train": TrainRecipe, "loss": LossRecipe,
             "distill": DistillRecipe, "scaling": ScalingRecipe}
SECTION_NAMES = tuple(_SECTIONS)


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


# (section, key) -> (test, what it must be). Checked after command-line overrides too.
_RANGES = {
    ("train", "max_steps"): (lambda v: v >= 1, ">= 1"),
    ("train", "batch_size"): (lambda v: v >= 1, ">= 1"),
    ("train", "gradient_accumulation_steps"): (lambda v: v >= 1, ">= 1"),
    ("train", "learning_rate"): (lambda v: math.isfinite(v) and v > 0, "a positive number"),
    ("train", "backbone_learning_rate"): (lambda v: v is None or (math.isfinite(v) and v > 0),
                                          "null or a positive number"),
    ("train", "weight_decay"): (lambda v: math.isfinite(v) and v >= 0, ">= 0"),
    ("train", "warmup_steps"): (lambda v: v >= 0, ">= 0"),
    ("train", "max_grad_norm"): (lambda v: math.isfinite(v) and v >= 0, ">= 0 (0 = no clipping)"),
    ("train", "mixed_precision"): (lambda v: v in ("no", "bf16", "fp16", "auto"), "one of no, bf16, fp16, auto"),
    ("train", "log_every"): (lambda v: v >= 1, ">= 1"),
    ("train", "save_every"): (lambda v: v >= 1, ">= 1"),
    ("train", "num_workers"): (lambda v: v >= 0, ">= 0"),
    ("loss", "variance_focus"): (lambda v: 0 <= v <= 1, "in [0, 1]"),
    ("loss", "gradient_weight"): (lambda v: math.isfinite(v) and v >= 0, ">= 0"),
    ("loss", "num_scales"): (lambda v: v >= 1, ">= 1"),
    ("model", "initial_canonical_inverse_depth"): (lambda v: math.isfinite(v) and v > 0, "a positive number"),
    ("data", "shuffle_buffer"): (lambda v: v >= 1, ">= 1"),
    ("distill", "ground_truth_weight"): (lambda v: math.isfinite(v) and v >= 0, ">= 0"),
    ("scaling", "scene_counts"): (lambda v: len(v) > 0 and all(_positive_int(n) for n in v),
                                  "a non-empty list of positive integers"),
    ("scaling", "camera_models"): (lambda v: v is None or (len(v) > 0 and all(_positive_int(n) for n in v)),
                                   "null or a non-empty list of positive integers"),
    ("scaling", "eval_prompts"): (lambda v: len(v) > 0 and all(isinstance(p, str) for p in v),
                                  "a non-empty list of prompt specs (none, grid:8 ...)"),
    ("scaling", "seeds"): (lambda v: v is None or (len(v) > 0 and all(isinstance(n, int) and not isinstance(n, bool)
                                                                      and n >= 0 for n in v)),
                           "null or a non-empty list of integers >= 0"),
}


def validate_recipe(recipe: "Recipe") -> "Recipe":
    """Raise on a value out of range, naming its key (`ma-vlm pretrain --max-steps 0` included)."""
    check_ranges(recipe, _RANGES)
    return recipe


def recipe_from_dict(values: dict, overrides: list[str] = ()) -> Recipe:
    """A checked recipe from a YAML mapping, with `--set SECTION.KEY=VALUE` overrides applied first."""
    values = apply_overrides(values or {}, list(overrides), SECTION_NAMES)
    return validate_recipe(build_section(Recipe, values, "recipe", nested=_SECTIONS))


def load_recipe(path: str | Path, overrides: list[str] = ()) -> Recipe:
    """Read a YAML recipe (see `recipes/*.yaml`), with `--set` overrides."""
    recipe = recipe_from_dict(read_yaml_mapping(path, "recipes/pretrain_teacher_tiny.yaml"), overrides)
    recipe.source_path = str(path)
    return recipe


GENERATE_KEYS = {"scenes": None, "seed": 0, "camera_models": 1000, "max_side": 640, "min_side": 48}


def generation_config(spec: dict, where: str = "data.generate"):
    """A `data.generate`-style section ({scenes, seed, camera_models, max_side, min_side, layouts})
    -> a checked `ma_vlm.data.generate.GenerationConfig`; `where` names the section in errors.
    Checked here, before any work: a scaling study meets its last section after hours of training."""
    from ma_vlm.data.cameras import camera_zoo
    from ma_vlm.data.generate import GenerationConfig
    from ma_vlm.data.scenes import LAYOUTS

    unknown = sorted(set(spec) - set(GENERATE_KEYS) - {"layouts"})
    if unknown:
        raise MaVlmInputError(f"unknown {where} keys {unknown}; known: {sorted([*GENERATE_KEYS, 'layouts'])}")
    if "scenes" not in spec:
        raise MaVlmInputError(f"recipe key {where}.scenes is missing: the number of scenes to render")
    values = {key: spec.get(key, default) for key, default in GENERATE_KEYS.items()}
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or (value < 1 and key != "seed"):
            raise MaVlmInputError(f"recipe key {where}.{key} must be {'an integer' if key == 'seed' else 'an integer >= 1'}, "
                                  f"got {value!r}")
    layouts = spec.get("layouts", LAYOUTS)
    if not isinstance(layouts, (list, tuple)) or not layouts or any(layout not in LAYOUTS for layout in layouts):
        raise MaVlmInputError(f"recipe key {where}.layouts must list some of {', '.join(LAYOUTS)}, got {layouts!r}")
    camera_zoo(values["camera_models"], values["max_side"], values["min_side"],
               names=(f"recipe key {where}.camera_models", f"{where}.max_side"))
    return GenerationConfig(num_scenes=values["scenes"], seed=values["seed"], num_camera_models=values["camera_models"],
                            max_side_px=values["max_side"], min_side_px=values["min_side"], layouts=tuple(layouts))
