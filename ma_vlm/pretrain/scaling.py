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
    for prompt in recipe.scaling.eval_prompts:
        if prompt != "none":
            try:
                parse_prompt_spec(prompt)
            except MaVlmInputError as error:
                raise MaVlmInputError(f"recipe key scaling.eval_prompts: {error}") from None


def run_scaling(recipe: Recipe, output_dir: str | Path) -> str:
    """Train every (camera count, scene count) run, evaluate, write the table/figure; returns markdown."""
    from ma_vlm.benchmarks.depth.runner import evaluate_depth, load_predictor
    from ma_vlm.data.cameras import camera_zoo
    from ma_vlm.pretrain.trainer import run_training

    check_scaling_recipe(recipe)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    base = dict(recipe.data.generate)
    camera_counts = recipe.scaling.camera_models or [int(base.get("camera_models", 1000))]
    scene_counts = sorted(int(n) for n in recipe.scaling.scene_counts)
    eval_dir = _render(output_dir / "eval_data", recipe.scaling.eval_generate, "scaling.eval_generate")
    rows = []
    for cameras in camera_counts:
        full = _render(output_dir / f"data_C{cameras}", {**base, "camera_models": cameras, "scenes": scene_counts[-1]},
                       "data.generate")
        zoo = camera_zoo(cameras, int(base.get("max_side", 640)), int(base.get("min_side", 48)))
        benchmark = held_out_benchmark(eval_dir, {camera.camera_model_id for camera in zoo})
        for scenes in scene_counts:
            run = copy.deepcopy(recipe)
            run.data.path = str(_subset(full, output_dir / f"data_C{cameras}_N{scenes}", scenes))
            run_dir = output_dir / "runs" / f"C{cameras}-N{scenes}"
            run_training(run, run_dir)
            predict = load_predictor(str(run_dir / "model"))
            for prompt in recipe.scaling.eval_prompts:
                report = evaluate_depth(predict, benchmark, None if prompt == "none" else prompt, progress=False)
                rows.append({"camera_models": cameras, "scenes": scenes, "prompt": prompt,
                             "eval_images": report["num_images"], **{k: report["metrics"][k] for k in
                                                                     ("abs_rel", "delta1", "rmse")}})
    _write_table(rows, output_dir)
    _plot(rows, output_dir / "scaling.png")
    return (output_dir / "scaling.md").read_text()


def _write_table(rows: list[dict], output_dir: Path) -> None:
    columns = list(rows[0])
    with atomic_path(output_dir / "scaling.csv") as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(f"{row[c]:.4f}" if isinstance(row[c], float) else str(row[c])
                                       for c in columns) + " |")
    write_text_atomic(output_dir / "scaling.md", "\n".join(lines) + "\n")


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for key in sorted({(r["camera_models"], r["prompt"]) for r in rows}):
        series = sorted((r["scenes"], r["abs_rel"], r["delta1"]) for r in rows if (r["camera_models"], r["prompt"]) == key)
        label = f"{key[0]} cameras, prompt {key[1]}"
        axes[0].plot([s[0] for s in series], [s[1] for s in series], "o-", label=label)
        axes[1].plot([s[0] for s in series], [s[2] for s in series], "o-", label=label)
    for axis, name in zip(axes, ("AbsRel (lower is better)", "delta1 (higher is better)")):
        axis.set_xscale("log")
        scene_counts = sorted({r["scenes"] for r in rows})
        axis.set_xticks(scene_counts, [str(n) for n in scene_counts])
        axis.minorticks_off()
        axis.set_xlabel("training scenes")
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle("held-out error vs training data (held-out camera models)")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)
