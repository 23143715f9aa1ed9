"""Training recipes: YAML files a user copies, read into dataclasses.

One recipe format serves the tiny CPU smoke run and the full GPU run; only values change.
Unknown keys are errors (a typo must not silently fall back to a default).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from ma_vlm.errors import MaVlmInputError


@dataclass
class ModelRecipe:
    """preset: `ma_vlm.encoders.presets` name; overrides: config fields (a `backbone_config`
    dict merges into the preset's); init_from: a model folder (converted student or teacher,
    loaded with this recipe's `use_prompt`) or None; backbone_from: a Transformers DINOv3 folder
    or Hub id whose ViT weights initialise the backbone (ignored with init_from).
    initial_canonical_inverse_depth: from scratch, the value the head's first predictions are
    calibrated to (0.5: ~2 m at a 53 degree field of view; `trainer._calibrate_last_head_conv`)
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
    mixed_precision: str = "no"  # "no" | "bf16" | "fp16"
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


def _build(cls, values: dict, where: str):
    if values is None:
        return cls()
    if not isinstance(values, dict):
        raise MaVlmInputError(f"recipe section {where!r} must be a mapping, got {type(values).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise MaVlmInputError(f"unknown key(s) {unknown} in recipe section {where!r}; known: {sorted(known)}")
    kwargs = {}
    for name, value in values.items():
        sub = _SECTIONS.get(name) if cls is Recipe else None
        kwargs[name] = _build(sub, value, name) if sub else value
    return cls(**kwargs)


_SECTIONS = {"model": ModelRecipe, "data": DataRecipe, "train": TrainRecipe, "loss": LossRecipe,
             "distill": DistillRecipe, "scaling": ScalingRecipe}


def recipe_from_dict(values: dict) -> Recipe:
    return _build(Recipe, values or {}, "recipe")


def load_recipe(path: str | Path) -> Recipe:
    """Read a YAML recipe (see `recipes/*.yaml`)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise MaVlmInputError(f"recipe {path} does not exist; copy one from recipes/ (e.g. recipes/pretrain_teacher_tiny.yaml)")
    recipe = recipe_from_dict(yaml.safe_load(path.read_text()))
    recipe.source_path = str(path)
    return recipe


def generation_config(spec: dict):
    """A `data.generate`-style section ({scenes, seed, camera_models, max_side, min_side, layouts})
    -> `ma_vlm.data.generate.GenerationConfig`; unknown keys are errors."""
    from ma_vlm.data.generate import GenerationConfig

    spec = dict(spec)
    config = GenerationConfig(
        num_scenes=int(spec.pop("scenes")), seed=int(spec.pop("seed", 0)),
        num_camera_models=int(spec.pop("camera_models", 1000)),
        max_side_px=int(spec.pop("max_side", 640)), min_side_px=int(spec.pop("min_side", 48)),
        **({"layouts": tuple(spec.pop("layouts"))} if "layouts" in spec else {}),
    )
    if spec:
        raise MaVlmInputError(f"unknown data.generate keys {sorted(spec)}")
    return config
