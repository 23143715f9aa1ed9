"""Scaling in miniature: the same recipe trained on more scenes and/or more camera models,
scored on a held-out set whose cameras the training runs never saw.

For each camera count C (`scaling.camera_models`, default the recipe's `data.generate`) the
largest scene count is rendered once; smaller sizes are its first N scenes (scene i depends
only on (seed, i), so sets are nested). Every run uses the same `train` section (same steps),
so the only variable is the data. Output folder: `runs/C<cams>-N<scenes>/` per run,
`eval_data/`, `scaling.csv`, `scaling.md`, `scaling.png`.
"""

from __future__ import annotations

import copy
import csv
from pathlib import Path

from ma_vlm.atomic_io import atomic_path, write_text_atomic
from ma_vlm.errors import MaVlmInputError
from ma_vlm.pretrain.recipe import Recipe, generation_config


def _render(folder: Path, spec: dict, where: str = "data.generate") -> Path:
    """Render `spec` into `folder` unless a finished render is there (a killed one is redone)."""
    import shutil

    from ma_vlm.data.generate import generate_dataset
    from ma_vlm.data.loading import incomplete_reason

    if not any(folder.glob("data/*.parquet")) or incomplete_reason(folder):
        shutil.rmtree(folder, ignore_errors=True)  # our own leftovers from an interrupted run
        generate_dataset(folder, generation_config(spec, where))
    return folder


def _subset(source: Path, folder: Path, num_scenes: int) -> Path:
    """The first `num_scenes` rows of `source` as a dataset folder, marked complete when written."""
    from ma_vlm.atomic_io import is_complete, mark_complete
    from ma_vlm.data.loading import DATASET_KIND, load_rgbd_dataset

    target = folder / "data" / "train.parquet"
    if not is_complete(folder, DATASET_KIND):
        with atomic_path(target) as tmp:
            load_rgbd_dataset(source).select(range(num_scenes)).to_parquet(str(tmp))
        mark_complete(folder, DATASET_KIND, writer="ma-vlm scaling", num_records=num_scenes)
    return folder


def held_out_benchmark(eval_dir: Path, training_camera_ids: set[int]):
    """The evaluation set minus any image taken with a training camera model."""
    from ma_vlm.benchmarks.depth.readers import DepthBenchmark, read_rgbd_dataset

    full = read_rgbd_dataset(eval_dir)
    samples = [s for s in full.samples() if int(s.get("camera_model_id", -1)) not in training_camera_ids]
    return DepthBenchmark("held-out cameras", full.protocol, len(samples), lambda: iter(samples))


def check_scaling_recipe(recipe: Recipe) -> None:
    """Before any work, what `run_scaling` would otherwise meet late: every render it will make,
    and every evaluation prompt (parsed only after the first training run)."""
    from ma_vlm.data.cameras import camera_zoo
    from ma_vlm.data.sparse_prompts import parse_prompt_spec

    if recipe.data.path is not None:
        raise MaVlmInputError(f"recipe key data.path {recipe.data.path!r}: ma-vlm scaling renders its own training "
                              "sets from data.generate (nested by scene count); remove data.path")
    generation_config(recipe.scaling.eval_generate, "scaling.eval_generate")
    base = {**recipe.data.generate, "scenes": max(recipe.scaling.scene_counts)}
    for cameras in recipe.scaling.camera_models or []:  # these replace data.generate.camera_models
        camera_zoo(cameras, base.get("max_side", 640), base.get("min_side", 48),
                   names=("recipe key scaling.camera_models", "data.generate.max_side"))
        base["camera_models"] = cameras
    generation_config(base, "data.generate")
    _student_recipe(recipe)
    for prompt in recipe.scaling.eval_prompts:
        if prompt != "none":
            try:
                parse_prompt_spec(prompt)
            except MaVlmInputError as error:
                raise MaVlmInputError(f"recipe key scaling.eval_prompts: {error}") from None


def _student_recipe(recipe: Recipe) -> Recipe | None:
    from ma_vlm.pretrain.recipe import load_recipe

    if recipe.scaling.student_recipe is None:
        return None
    student = load_recipe(recipe.scaling.student_recipe)
    if student.model.use_prompt:
        raise MaVlmInputError(f"recipe key scaling.student_recipe {recipe.scaling.student_recipe}: a student is "
                              "prompt-free; set model.use_prompt: false there")
    return student


def run_scaling(recipe: Recipe, output_dir: str | Path) -> str:
    """Train every (camera count, scene count, seed) run -- the teacher, then its distilled student
    when `scaling.student_recipe` is set -- evaluate on held-out cameras beside the baselines
    (interpolation of the same prompt, the median oracle), write the table and figure; returns
    the markdown table (mean and standard deviation over seeds)."""
    from ma_vlm.benchmarks.depth.runner import evaluate_depth, load_predictor
    from ma_vlm.data.cameras import camera_zoo
    from ma_vlm.pretrain.trainer import run_training

    check_scaling_recipe(recipe)
    student_recipe = _student_recipe(recipe)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    base = dict(recipe.data.generate)
    camera_counts = recipe.scaling.camera_models or [int(base.get("camera_models", 1000))]
    scene_counts = sorted(int(n) for n in recipe.scaling.scene_counts)
    seeds = recipe.scaling.seeds or [recipe.train.seed]
    eval_dir = _render(output_dir / "eval_data", recipe.scaling.eval_generate, "scaling.eval_generate")
    rows = []

    def score(model: str, benchmark, cameras: int, scenes: int, seed, prompts) -> None:
        predict = load_predictor(model)
        for prompt in prompts:
            report = evaluate_depth(predict, benchmark, None if prompt == "none" else prompt, progress=False)
            name = model if model.startswith("baseline:") else Path(model).parent.name
            rows.append({"camera_models": cameras, "scenes": scenes, "seed": seed, "model": name, "prompt": prompt,
                         "eval_images": report["num_images"],
                         **{k: report["metrics"][k] for k in ("abs_rel", "delta1", "rmse")}})

    for cameras in camera_counts:
        full = _render(output_dir / f"data_C{cameras}", {**base, "camera_models": cameras, "scenes": scene_counts[-1]},
                       "data.generate")
        zoo = camera_zoo(cameras, int(base.get("max_side", 640)), int(base.get("min_side", 48)))
        benchmark = held_out_benchmark(eval_dir, {camera.camera_model_id for camera in zoo})
        prompted = [p for p in recipe.scaling.eval_prompts if p != "none"]
        score("baseline:linear", benchmark, cameras, 0, "-", prompted)
        score("baseline:median_oracle", benchmark, cameras, 0, "-", ["none"])
        for scenes in scene_counts:
            data_path = str(_subset(full, output_dir / f"data_C{cameras}_N{scenes}", scenes))
            for seed in seeds:
                run_dir = output_dir / "runs" / (f"C{cameras}-N{scenes}" + ("" if len(seeds) == 1 else f"-s{seed}"))
                teacher = copy.deepcopy(recipe)
                teacher.data.path, teacher.train.seed = data_path, seed
                run_training(teacher, run_dir / "teacher")
                score(str(run_dir / "teacher" / "model"), benchmark, cameras, scenes, seed,
                      recipe.scaling.eval_prompts)
                if student_recipe is not None:
                    student = copy.deepcopy(student_recipe)
                    student.data.path, student.train.seed = data_path, seed
                    run_training(student, run_dir / "student", teacher_dir=str(run_dir / "teacher" / "model"))
                    score(str(run_dir / "student" / "model"), benchmark, cameras, scenes, seed, ["none"])
    _write_table(rows, output_dir)
    _plot(rows, output_dir / "scaling.png")
    return (output_dir / "scaling.md").read_text()


def summarise(rows: list[dict]) -> list[dict]:
    """Per (cameras, scenes, model, prompt): AbsRel / delta1 / RMSE mean and standard deviation
    over seeds (std 0 for one seed)."""
    import numpy as np

    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["camera_models"], row["scenes"], row["model"], row["prompt"]), []).append(row)
    summary = []
    for (cameras, scenes, model, prompt), group in groups.items():
        entry = {"camera_models": cameras, "scenes": scenes, "model": model, "prompt": prompt, "seeds": len(group)}
        for key in ("abs_rel", "delta1", "rmse"):
            values = np.array([float(r[key]) for r in group])
            entry[key], entry[f"{key}_std"] = float(values.mean()), float(values.std())
        summary.append(entry)
    return summary


def _write_table(rows: list[dict], output_dir: Path) -> None:
    columns = list(rows[0])
    with atomic_path(output_dir / "scaling.csv") as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| camera models | scenes | model | prompt | seeds | AbsRel | delta1 | RMSE (m) |", "|" + "---|" * 8]
    for entry in summarise(rows):
        scenes = "-" if entry["model"].startswith("baseline:") else entry["scenes"]
        lines.append(f"| {entry['camera_models']} | {scenes} | {entry['model']} | {entry['prompt']} | "
                     f"{entry['seeds']} | {entry['abs_rel']:.4f} ± {entry['abs_rel_std']:.4f} | "
                     f"{entry['delta1']:.3f} ± {entry['delta1_std']:.3f} | {entry['rmse']:.3f} ± {entry['rmse_std']:.3f} |")
    write_text_atomic(output_dir / "scaling.md", "\n".join(lines) + "\n")


def _plot(rows: list[dict], path: Path) -> None:
    """AbsRel and delta1 against training scenes: mean over seeds with a ±1 std bar per model and
    prompt; baselines (independent of the data size) as dashed lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = summarise(rows)
    trained = [e for e in summary if not e["model"].startswith("baseline:")]
    drawn: set[tuple] = set()  # a baseline serves every series of its prompt: one line each
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for key in sorted({(e["camera_models"], e["model"], e["prompt"]) for e in trained}):
        series = sorted((e for e in trained if (e["camera_models"], e["model"], e["prompt"]) == key),
                        key=lambda e: e["scenes"])
        label = f"{key[1]}, prompt {key[2]}" + (f", {key[0]} cameras" if len({e['camera_models'] for e in trained}) > 1 else "")
        for axis, metric in zip(axes, ("abs_rel", "delta1")):
            line = axis.errorbar([e["scenes"] for e in series], [e[metric] for e in series],
                                 yerr=[e[f"{metric}_std"] for e in series], fmt="o-", capsize=3, label=label)
            baseline = [b for b in summary if b["model"].startswith("baseline:") and b["prompt"] == key[2]
                        and b["camera_models"] == key[0]]
            for b in baseline:
                if (b["model"], b["prompt"], b["camera_models"], metric) in drawn:
                    continue
                drawn.add((b["model"], b["prompt"], b["camera_models"], metric))
                axis.axhline(b[metric], ls="--", lw=1, color=line[0].get_color(),
                             label=f"{b['model'].split(':')[1]}, prompt {key[2]}" if axis is axes[0] else None)
    scene_counts = sorted({e["scenes"] for e in trained})
    for axis, name in zip(axes, ("AbsRel (lower is better)", "delta1 (higher is better)")):
        axis.set_xscale("log")
        axis.set_xticks(scene_counts, [str(n) for n in scene_counts])
        axis.minorticks_off()
        axis.set_xlabel("training scenes (same steps per size)")
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    figure.suptitle("held-out error vs training data (held-out camera models; mean ± std over seeds)")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)
