"""The demo's stages, in order. Each builds, when its turn comes, the list of steps it runs: the
project's own commands (`Command`) and a few named glue steps (`Glue`). The stage list is the
demo: the runner only executes it, and the report reads what it left in the run folder.

Run-folder layout (RUN = `ma-vlm demo --output`):
    data/{train,heldout}/  images/  teacher/ student/ models.json  eval/*.json  depth/*/
    pointmap/ pointmap_depth/  synthspatial/ llava/ mllm/  vla/  report.md report.html figures/
    stages/<stage>.json (completion markers, written last)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ma_vlm.demo import glue
from ma_vlm.demo.budget import repo_path
from ma_vlm.demo.commands import Command, option_help

EXAMPLE_IMAGES = ("nyuv2_0.png", "kitti_0.png")
SOURCES_FILE = f"{glue.HELDOUT_IMAGE}_sources.npz"


@dataclass
class Glue:
    """A step of the demo's own (see glue.py): `what` is printed, `run()` does it."""

    what: str
    run: Callable[[], object]

    def __str__(self) -> str:
        return f"(demo) {self.what}"


@dataclass
class Context:
    run_dir: Path
    budget: dict
    checkpoint: str | None = None   # an official student_depthmap.pt: converted and run in stage `depth`

    def path(self, *parts: str) -> Path:
        return self.run_dir.joinpath(*parts)


@dataclass
class Stage:
    name: str                    # what --from takes
    title: str                   # the line printed when the stage starts
    build: Callable[[Context], list]
    outputs: tuple[str, ...]     # run-folder entries the stage writes; --from removes them
    unmet: Callable[[Context], list[str]] = field(default=lambda context: [])  # what else it needs, if missing


def _generate(output: Path, spec: dict) -> Command:
    return Command(["data", "generate", "--output", output, "--scenes", spec["scenes"], "--seed", spec["seed"],
                    "--camera-models", spec["camera_models"], "--max-side", spec["max_side"],
                    "--min-side", spec["min_side"]])


def build_data(context: Context) -> list:
    data = context.budget["data"]
    return [
        _generate(context.path("data", "train"), data["train"]),
        _generate(context.path("data", "heldout"), data["heldout"]),
        Glue("export held-out image 0 with its camera, true depth and a lidar:64 prompt -> images/",
             lambda: glue.export_heldout_image(context.path("data", "heldout"), context.path("images"))),
        Glue(f"held-out image 0 as each depth source of the teacher recipe sees it -> images/{SOURCES_FILE}",
             lambda: glue.export_depth_sources(context.path("data", "heldout"),
                                               repo_path(context.budget["depth"]["teacher_recipe"]),
                                               context.path("images", SOURCES_FILE))),
    ]


def _pretrained_dir(context: Context) -> Path | None:
    """`make pretrain-small`'s output when the budget names it and both models are there."""
    name = context.budget["depth"]["pretrained"]
    if name is None:
        return None
    folder = repo_path(name)
    complete = all((folder / role / "model" / "config.json").is_file() for role in ("teacher", "student"))
    return folder if complete else None


def build_pretrain(context: Context) -> list:
    depth = context.budget["depth"]
    pretrained = _pretrained_dir(context)
    if pretrained is not None:
        return [Glue(f"use the small pretrained tower of `make pretrain-small` ({pretrained})",
                     lambda: glue.record_models(context.path("models.json"), pretrained / "teacher" / "model",
                                                pretrained / "student" / "model",
                                                f"`make pretrain-small` ({pretrained})"))]
    train, teacher, student = context.path("data", "train"), context.path("teacher"), context.path("student")
    return [
        Command(["pretrain", "--recipe", repo_path(depth["teacher_recipe"]), "--output", teacher,
                 "--data", train, "--max-steps", depth["teacher_steps"]]),
        Command(["distill", "--recipe", repo_path(depth["student_recipe"]), "--teacher", teacher / "model",
                 "--output", student, "--data", train, "--max-steps", depth["student_steps"]]),
        Glue("record the teacher and student folders -> models.json",
             lambda: glue.record_models(context.path("models.json"), teacher / "model", student / "model",
                                        f"trained by this demo ({depth['teacher_steps']} teacher steps, "
                                        f"{depth['student_steps']} student steps)")),
    ]


def _models(context: Context) -> dict:
    return glue.read_models(context.run_dir)


def build_depth_eval(context: Context) -> list:
    heldout, models = context.path("data", "heldout"), _models(context)

    def evaluate(model: str, prompt: str, name: str) -> Command:
        return Command(["eval", "depth", "--model", model, "--data", heldout, "--prompt", prompt,
                        "--output", context.path("eval", f"{name}_{prompt.replace(':', '_')}.json")])

    steps = []
    for prompt in context.budget["depth"]["eval_prompts"]:
        steps += [evaluate(models["teacher"], prompt, "teacher"), evaluate("baseline:linear", prompt, "baseline_linear")]
    steps += [evaluate(models["teacher"], "none", "teacher"), evaluate(models["student"], "none", "student")]
    if "baseline:median_oracle" in option_help(["eval", "depth"], "--model"):
        steps.append(evaluate("baseline:median_oracle", "none", "median_oracle"))
    else:  # `ma-vlm eval depth` without the oracle: the demo scores it with the same metrics
        steps.append(Glue("score the per-image median oracle (true median depth everywhere) -> "
                          "eval/median_oracle_none.json",
                          lambda: glue.score_median_oracle(heldout, context.path("eval", "median_oracle_none.json"))))
    return steps


def build_depth_images(context: Context) -> list:
    models, image = _models(context), context.path("images", f"{glue.HELDOUT_IMAGE}.png")
    examples = [repo_path(f"examples/{name}") for name in EXAMPLE_IMAGES]
    prompt = context.path("images", f"{glue.HELDOUT_IMAGE}_prompt_{glue.PROMPT_SPEC.replace(':', '')}.npy")
    steps = [
        Command(["depth", image, *examples, "--model", models["student"], "--output", context.path("depth", "student")]),
        Command(["depth", image, "--model", models["teacher"], "--output", context.path("depth", "teacher_lidar64"),
                 "--prompt-depth", prompt]),
    ]
    if context.checkpoint:
        official = context.path("depth", "official_model")
        steps += [Command(["convert", context.checkpoint, official, "--overwrite"]),
                  Command(["depth", image, *examples, "--model", official, "--output", context.path("depth", "official")])]
    return steps


def build_intrinsics(context: Context) -> list:
    pointmap = context.budget["pointmap"]
    image = context.path("images", f"{glue.HELDOUT_IMAGE}.png")
    model = context.path("pointmap")   # `ma-vlm pretrain-pointmap --output` is the model folder itself
    return [
        Command(["pretrain-pointmap", "--data", context.path("data", "train"), "--output", model,
                 "--preset", pointmap["preset"], "--steps", pointmap["steps"]]),
        Command(["intrinsics", image, "--model", model, "--output", context.path("intrinsics.json")],
                capture=context.path("intrinsics.txt")),
        # Writes <stem>.json with the recovered cam_in beside depth, points and mask (compared with the truth).
        Command(["depth", image, "--model", model, "--output", context.path("pointmap_depth")]),
    ]


def _mllm_train(context: Context, name: str, tower: str) -> Command:
    """`ma-vlm train mllm` on the SynthSpatial conversations with `tower` (a depth-model folder)."""
    mllm = context.budget["mllm"]
    return Command(["train", "mllm", "--recipe", repo_path(mllm["recipe"]), "--output", context.path("mllm", name),
                    "--set", f"model.tower={tower}", "--set", f"data.train={context.path('llava', 'train.jsonl')}",
                    "--set", f"train.max_steps={mllm['steps']}"])


def build_spatial_mllm(context: Context) -> list:
    """SynthSpatial questions from the training scenes (to train on) and from the held-out scenes
    and cameras (to score on). `ma-vlm eval synthspatial` splits scenes 80/10/10 by a hash; the
    demo trains on the train split of the first and scores the train split of the second (80 % of
    the held-out scenes), so no scored scene or camera was seen in training."""
    mllm, models = context.budget["mllm"], _models(context)
    train_questions, test_questions = context.path("synthspatial", "train_scenes"), context.path("synthspatial", "heldout_scenes")
    steps = [
        Command(["eval", "synthspatial", "--rgbd", context.path("data", "train"), "--output", train_questions,
                 "--questions-per-type", mllm["questions_per_type"]]),
        Command(["eval", "synthspatial", "--rgbd", context.path("data", "heldout"), "--output", test_questions,
                 "--questions-per-type", mllm["questions_per_type"]]),
        Command(["data", "llava", "--synthspatial", train_questions, "--split", "train",
                 "--output", context.path("llava", "train.jsonl")]),
        Glue("the student's architecture with fresh weights (no depth pretraining) -> mllm/untrained_tower",
             lambda: glue.save_untrained_copy(Path(models["student"]), context.path("mllm", "untrained_tower"))),
        _mllm_train(context, "depth_tower", models["student"]),
        _mllm_train(context, "no_depth_tower", str(context.path("mllm", "untrained_tower"))),
    ]
    for name in ("depth_tower", "no_depth_tower"):
        steps.append(Command(["eval", "spatial", "--model", context.path("mllm", name, "model"),
                              "--benchmark", "synthspatial", "--data", test_questions, "--split", "train",
                              "--limit", mllm["eval_limit"], "--device", "cpu",
                              "--output", context.path("mllm", f"{name}_scores.json")]))
    steps.append(Command(["chat", "--model", context.path("mllm", "depth_tower", "model"), "--image",
                          context.path("images", f"{glue.HELDOUT_IMAGE}.png"), glue.SPATIAL_QUESTION],
                         capture=context.path("mllm", "chat.txt")))
    return steps


def build_vla(context: Context) -> list:
    vla = context.budget["vla"]
    tasks, demos, train = ",".join(vla["tasks"]), context.path("vla", "demos"), context.path("vla", "train")
    repo_id = "local/ma_vlm_demo"
    return [
        Command(["vla", "demos", "--tasks", tasks, "--episodes", vla["episodes"], "--root", demos,
                 "--repo-id", repo_id]),
        Command(["lerobot-train", "--policy.type=ma_vla", f"--dataset.repo_id={repo_id}",
                 f"--dataset.root={demos}", f"--output_dir={train}", f"--steps={vla['steps']}",
                 f"--save_freq={vla['steps']}", "--batch_size=4", "--num_workers=0", "--policy.device=cpu",
                 "--policy.push_to_hub=false", "--wandb.enable=false"], program="lerobot-train",
                capture=context.path("vla", "train_log.txt")),
        Command(["vla", "eval", "--policy", train / "checkpoints" / "last" / "pretrained_model", "--tasks", tasks,
                 "--episodes", vla["eval_episodes"], "--gifs", 1, "--output", context.path("vla", "eval")]),
    ]


def _unmet_files(*budget_keys: tuple[str, str]) -> Callable[[Context], list[str]]:
    """Recipe files the budget names that this checkout lacks."""
    def check(context: Context) -> list[str]:
        paths = [repo_path(context.budget[section][key]) for section, key in budget_keys]
        return [f"{path} (not in this checkout)" for path in paths if not path.is_file()]
    return check


def _unmet_vla(context: Context) -> list[str]:
    """`lerobot-train --policy.type=ma_vla` finds the policy through the installed plugin distribution."""
    import importlib.util

    return [] if importlib.util.find_spec("lerobot_policy_ma_vla") else ["the lerobot_policy_ma_vla plugin (not installed)"]


def build_report(context: Context) -> list:
    from ma_vlm.demo.report import write_report

    return [Glue("write report.md and report.html", lambda: write_report(context.run_dir, context.budget, STAGES))]


STAGES = [
    Stage("data", "generate RGB-D data: several camera models, noisy sources (train + held-out cameras)",
          build_data, ("data", "images")),
    Stage("pretrain", "pretrain the prompt-based teacher and distil the prompt-free student",
          build_pretrain, ("teacher", "student", "models.json")),
    Stage("depth-eval", "evaluate depth on held-out cameras vs interpolation and the median oracle",
          build_depth_eval, ("eval",)),
    Stage("depth", "ma-vlm depth on a rendered image and on real photos (NYUv2, KITTI)",
          build_depth_images, ("depth",)),
    Stage("intrinsics", "recover a rendered image's intrinsics with the point-map model",
          build_intrinsics, ("pointmap", "pointmap_depth", "intrinsics.json", "intrinsics.txt")),
    Stage("spatial-mllm", "SynthSpatial: SmolLM2-135M + LoRA with the depth tower vs a no-depth tower",
          build_spatial_mllm, ("synthspatial", "llava", "mllm"), unmet=_unmet_files(("mllm", "recipe"))),
    Stage("vla", "MetaWorld demonstrations, VLA policy training, success and latency",
          build_vla, ("vla",), unmet=_unmet_vla),
    Stage("report", "write report.md and a self-contained report.html", build_report,
          ("report.md", "report.html", "figures")),
]
