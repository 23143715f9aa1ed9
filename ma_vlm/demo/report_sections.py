"""One function per report section: read a stage's outputs, add tables and pictures to the report.

Signature: `section(report, run_dir, budget, stages)`. A section whose stage did not finish says
why (the marker's reason) instead of showing numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ma_vlm.demo import figures
from ma_vlm.demo.glue import HELDOUT_IMAGE, SPATIAL_QUESTION
from ma_vlm.resources import shipped_path

TOY_NOTE = ("**Every number in this report comes from a toy budget** (`{name}`: {scenes} training scenes at "
            "{side} px, {teacher} teacher steps, tiny models on a CPU). The numbers show that each stage runs "
            "end to end and how the parts compare at this size; they are not the paper's results and say "
            "nothing about the full-scale models. The last section gives the full-scale commands.")


def _marker(run_dir: Path, stage: str) -> dict | None:
    path = run_dir / "stages" / f"{stage}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _stage_missing(report, run_dir: Path, stage: str) -> bool:
    """True (and a sentence in the report) when `stage` has not finished."""
    marker = _marker(run_dir, stage)
    if marker is not None and marker["status"] == "done":
        return False
    if marker is None:
        report.text(f"Not run yet: stage `{stage}` has not finished in this run folder.")
    else:
        report.text(f"**Not run: {marker['reason']}.** The stage will run these commands once they exist:")
        report.code("\n".join(marker["commands"]))
    return True


def _json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def overview(report, run_dir, budget, stages) -> None:
    data = budget["data"]["train"]
    report.text(TOY_NOTE.format(name=budget["name"], scenes=data["scenes"], side=data["max_side"],
                                teacher=budget["depth"]["teacher_steps"]))
    rows = []
    for number, stage in enumerate(stages, 1):
        marker = _marker(run_dir, stage.name)
        if stage.name == "report":
            status, seconds = "done (this file)", ""
        elif marker is None:
            status, seconds = "not run yet", ""
        elif marker["status"] == "done":
            status, seconds = "done", f"{marker['seconds']:.0f}"
        else:
            status, seconds = f"not run: {marker['reason']}", ""
        rows.append([number, f"`{stage.name}`", stage.title, status, seconds])
    report.table(["#", "stage", "what", "status", "seconds"], rows)
    report.text("The exact commands each stage ran (re-run `ma-vlm demo --output RUN` to finish a run; "
                "`--from STAGE` restarts from a stage):")
    lines = []
    for stage in stages:
        marker = _marker(run_dir, stage.name)
        if marker is not None and marker["status"] == "done":
            lines += [f"# {stage.name}", *marker["commands"]]
    report.code("\n".join(lines) or "# no stage has finished yet")


def data(report, run_dir, budget, stages) -> None:
    if _stage_missing(report, run_dir, "data"):
        return
    rows = []
    for split in ("train", "heldout"):
        spec = _json(run_dir / "data" / split / "generation.json") or {}
        rows.append([split, spec.get("num_scenes"), spec.get("num_camera_models"), spec.get("seed"),
                     f"{spec.get('min_side_px')}-{spec.get('max_side_px')}", ", ".join(spec.get("layouts", []))])
    report.table(["split", "scenes", "camera models", "seed", "long side (px)", "layouts"], rows)
    report.text("Held-out scenes use another seed and cameras drawn from a 1,000-model zoo, so evaluation sees "
                "cameras training did not. Training reads each clean render through noisy-source views "
                "(`data.sources` of the teacher recipe), mixed with the recipe's weights:")
    figure = _noisy_sources_figure(run_dir)
    report.image(figure, "One held-out scene as each depth source of the teacher recipe sees it "
                         "(metres, near = bright, grey = no depth).")


def _noisy_sources_figure(run_dir: Path) -> Path | None:
    """The data stage's held-out image as each depth source saw it (`glue.export_depth_sources`)."""
    path = run_dir / "images" / f"{HELDOUT_IMAGE}_sources.npz"
    if not path.is_file():  # a run folder from before the data stage wrote it
        return None
    with np.load(path) as arrays:
        views = {name: arrays[name] for name in arrays.files if name != "image"}
        return figures.noisy_sources(arrays["image"], views, run_dir / "figures" / "noisy_sources.png")


def pretraining(report, run_dir, budget, stages) -> None:
    if _stage_missing(report, run_dir, "pretrain"):
        return
    models = _json(run_dir / "models.json")
    report.text(f"Teacher `{models['teacher']}` and student `{models['student']}`: {models['origin']}.")
    rows, logs = [], {}
    for role in ("teacher", "student"):
        run = Path(models[role]).parent
        summary = _json(run / "summary.json")
        if summary:
            rows.append([role, summary["step"], summary["first_loss"], summary["last_loss"]])
        logs[role] = run / "log.csv"
    if rows:
        report.table(["model", "steps", "first loss", "last loss"], rows)
    report.image(figures.loss_curves(logs, run_dir / "figures" / "depth_loss.png", "depth pretraining"),
                 "Loss curves: teacher (SILog + gradient matching, with Sparse Metric Prompts) and student "
                 "(distilled from the teacher, no prompt).")


def _eval_rows(run_dir: Path) -> list[dict]:
    rows = []
    for path in sorted((run_dir / "eval").glob("*.json")):
        result = json.loads(path.read_text())
        prompt = result["prompt"]
        suffix = "_none" if prompt == "none" else "_" + prompt.replace(":", "_")
        name = path.stem[: -len(suffix)] if path.stem.endswith(suffix) else path.stem
        rows.append({"model": name, "prompt": prompt, "images": result["num_images"], **result["metrics"]})
    return rows


def depth_eval(report, run_dir, budget, stages) -> None:
    if _stage_missing(report, run_dir, "depth-eval"):
        return
    rows = _eval_rows(run_dir)
    rows.sort(key=lambda r: (r["prompt"] == "none", r["prompt"], r["model"]))
    report.table(["model", "prompt", "images", "AbsRel", "RMSE (m)", "delta1"],
                 [[r["model"], r["prompt"], r["images"], r["abs_rel"], r["rmse"], r["delta1"]] for r in rows])
    by_key = {(r["model"], r["prompt"]): r for r in rows}
    sentences = []
    for prompt in budget["depth"]["eval_prompts"]:
        teacher, baseline = by_key.get(("teacher", prompt)), by_key.get(("baseline_linear", prompt))
        if teacher and baseline:
            verdict = "beats" if teacher["abs_rel"] < baseline["abs_rel"] else "does not beat"
            sentences.append(f"with `{prompt}` the teacher {verdict} Delaunay-linear interpolation of the same "
                             f"prompt (AbsRel {teacher['abs_rel']:.4f} vs {baseline['abs_rel']:.4f})")
    student, oracle = by_key.get(("student", "none")), by_key.get(("median_oracle", "none"))
    if student and oracle:
        verdict = "beats" if student["abs_rel"] < oracle["abs_rel"] else "does not beat"
        sentences.append(f"without a prompt the student {verdict} the per-image median oracle "
                         f"(AbsRel {student['abs_rel']:.4f} vs {oracle['abs_rel']:.4f})")
    if sentences:
        report.text("On these held-out cameras, " + "; ".join(sentences) + ". `baseline_linear` interpolates the "
                    "prompt and ignores the image; `median_oracle` predicts each image's true median depth "
                    "everywhere (right scale, no structure). Metrics: per-image means, metres.")


def depth_maps(report, run_dir, budget, stages) -> None:
    if _stage_missing(report, run_dir, "depth"):
        return
    from PIL import Image

    images, depth = run_dir / "images", run_dir / "depth"
    truth = np.load(images / f"{HELDOUT_IMAGE}_depth.npy")
    rgb = np.asarray(Image.open(images / f"{HELDOUT_IMAGE}.png").convert("RGB"))
    predictions = {name: np.load(path) for name, path in (
        ("student (no prompt)", depth / "student" / f"{HELDOUT_IMAGE}.npy"),
        ("teacher + lidar:64", depth / "teacher_lidar64" / f"{HELDOUT_IMAGE}.npy")) if path.is_file()}
    report.image(figures.depth_and_error(rgb, truth, predictions, run_dir / "figures" / "depth_error.png"),
                 "A rendered held-out image: true depth, predictions on the same colour scale, and their "
                 "absolute relative error (`ma-vlm depth` outputs, metres).")
    examples = shipped_path("examples")
    pairs = [(f"{name} (real photo, {dataset})", examples / f"{name}.png", depth / "student" / f"{name}.png")
             for name, dataset in (("nyuv2_0", "NYUv2"), ("kitti_0", "KITTI"))]
    report.image(figures.image_and_depth(pairs, run_dir / "figures" / "real_photos.png"),
                 "`ma-vlm depth` with the student on real photos (focal length from their `.json`; see "
                 "examples/ATTRIBUTION.md). The student saw only rendered scenes.")
    if (depth / "official").is_dir():
        official = [(f"{name} (official checkpoint)", image, depth / "official" / f"{Path(image).stem}.png")
                    for name, image in (("rendered", images / f"{HELDOUT_IMAGE}.png"),
                                        ("NYUv2", examples / "nyuv2_0.png"), ("KITTI", examples / "kitti_0.png"))]
        report.image(figures.image_and_depth(official, run_dir / "figures" / "official.png"),
                     "`ma-vlm depth` with the converted official Student-DepthMap (`--checkpoint`).")
    for stem in ("nyuv2_0", HELDOUT_IMAGE):
        preview = figures.point_cloud_preview(depth / "student" / f"{stem}.ply", run_dir / "figures" / "point_cloud.png")
        if preview is not None:
            report.image(preview, f"Point cloud preview of `depth/student/{stem}.ply` (back-projected with the "
                                  "image's intrinsics, metres).")
            break


def intrinsics(report, run_dir, budget, stages) -> None:
    if _stage_missing(report, run_dir, "intrinsics"):
        return
    truth = _json(run_dir / "images" / f"{HELDOUT_IMAGE}.json")
    recovered = _json(run_dir / "pointmap_depth" / f"{HELDOUT_IMAGE}.json")
    if not truth or not recovered:
        report.text("The point-map stage ran but wrote no recovered `cam_in` for the held-out image.")
        return
    rows = [[name, t, r, abs(r - t) / t if t else float("nan")]
            for name, t, r in zip(("fx", "fy", "cx", "cy"), truth["cam_in"], recovered["cam_in"])]
    report.table(["intrinsic (px)", "truth", "recovered", "relative error"], rows)
    printed = run_dir / "intrinsics.txt"
    if printed.is_file():
        report.text("What `ma-vlm intrinsics` printed:")
        report.code(printed.read_text().strip())


def spatial_mllm(report, run_dir, budget, stages) -> None:
    if _stage_missing(report, run_dir, "spatial-mllm"):
        return
    scores = {name: _json(run_dir / "mllm" / f"{name}_scores.json") for name in ("depth_tower", "no_depth_tower")}
    scores = {name: value for name, value in scores.items() if value}
    keys = sorted({key for value in scores.values() for key in value["scores"]})
    report.table(["score", *scores], [[key, *(value["scores"].get(key, float("nan")) for value in scores.values())]
                                      for key in keys])
    chat = run_dir / "mllm" / "chat.txt"
    if chat.is_file():
        report.text("`ma-vlm chat` with the depth-tower model on the held-out image:")
        report.code(f"Q: {SPATIAL_QUESTION}\nA: {chat.read_text().strip()}")
    report.image(figures.bar_chart({name: value["scores"] for name, value in scores.items()},
                                   run_dir / "figures" / "spatial_qa.png", "score", "SynthSpatial test split"),
                 "Spatial QA per question type: SmolLM2-135M + LoRA with the depth-pretrained tower vs the same "
                 "tower architecture with fresh weights (no depth pretraining).")
    logs = {name: next(iter(sorted((run_dir / "mllm" / name).rglob("log.csv"))), Path("/nonexistent"))
            for name in scores}
    report.image(figures.loss_curves(logs, run_dir / "figures" / "mllm_loss.png", "MLLM LoRA training"),
                 "MLLM training loss (assistant turns only).")


def vla(report, run_dir, budget, stages) -> None:
    if _stage_missing(report, run_dir, "vla"):
        return
    results = _json(run_dir / "vla" / "eval" / "results.json")
    if results is None:
        report.text("The VLA stage ran but `vla/eval/results.json` is missing.")
        return
    rows = [[task, value["success_rate"], len(value["episodes"])] for task, value in results["tasks"].items()]
    rows.append(["**mean**", results["mean_success_rate"], sum(row[2] for row in rows)])
    report.table(["task", "success rate", "episodes"], rows)
    report.table(["control latency on this CPU", "ms"],
                 [["per action chunk (median)", results["latency_ms_per_chunk"]],
                  ["per action (mean, chunk calls amortised)", results["latency_ms_per_action"]]])
    others = [[key, value] for key, value in _numbers(results)
              if not key.startswith("tasks.") and key not in ("mean_success_rate", "latency_ms_per_chunk",
                                                              "latency_ms_per_action")]
    if others:
        report.table(["other figure", "value"], others)
    videos = sorted((run_dir / "vla" / "eval").glob("*.gif")) + sorted((run_dir / "vla" / "eval").glob("*.mp4"))
    if videos:
        report.image(figures.episode_gif(videos[0], run_dir / "figures" / "episode.gif"),
                     f"One evaluation episode ({videos[0].name}).")
    log = run_dir / "vla" / "train_log.txt"
    if log.is_file():
        import re

        losses = [float(value) for value in re.findall(r"\bloss:([0-9.]+(?:e-?\d+)?)", log.read_text())]
        report.image(figures.series(losses, run_dir / "figures" / "vla_loss.png", "lerobot-train log line",
                                    "loss", "VLA training (lerobot-train)"),
                     "VLA policy training loss, as `lerobot-train` logged it.")


def _numbers(payload, prefix: str = ""):
    """(dotted key, number) for every numeric leaf of a JSON value (success rates, latencies)."""
    if isinstance(payload, dict):
        for key, value in payload.items():
            yield from _numbers(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(payload, (int, float)) and not isinstance(payload, bool):
        yield prefix, payload


# (stage, recipe the command reads or "", command). Every recipes/ path named here must exist and load:
# tests/demo/test_full_scale_recipes.py.
FULL_SCALE = [
    ("data", "", "ma-vlm data generate --output data/synthetic --scenes 200000 --seed 0 --workers 32 "
                 "--camera-models 10000 --sources render"),
    ("pretrain", "recipes/pretrain_teacher_full.yaml",
     "accelerate launch --config_file recipes/accelerate/deepspeed_zero2.yaml -m ma_vlm.cli pretrain "
     "--recipe recipes/pretrain_teacher_full.yaml --data data/synthetic --output runs/teacher_full"),
    ("pretrain", "recipes/distill_student_full.yaml",
     "accelerate launch --config_file recipes/accelerate/deepspeed_zero2.yaml -m ma_vlm.cli distill "
     "--recipe recipes/distill_student_full.yaml --teacher runs/teacher_full/model --data data/synthetic "
     "--output runs/student_full"),
    ("depth-eval", "", "ma-vlm data import --data nyu_depth_v2_labeled.mat --output data/nyuv2 && "
                       "ma-vlm eval depth --model runs/teacher_full/model --data data/nyuv2 --prompt grid:8 "
                       "--output nyu_grid8.json"),
    ("depth", "", "ma-vlm convert student_depthmap.pt converted/ && ma-vlm depth examples/nyuv2_0.png "
                  "examples/kitti_0.png --model converted/ --output depth_official/"),
    ("intrinsics", "", "ma-vlm convert student_pointmap.pt converted_pointmap/ && ma-vlm intrinsics "
                       "examples/nyuv2_0.png --model converted_pointmap/"),
    ("spatial-mllm", "recipes/mllm_lora_full.yaml",
     "accelerate launch --config_file recipes/accelerate/deepspeed_zero2_mllm.yaml -m ma_vlm.cli train mllm "
     "--recipe recipes/mllm_lora_full.yaml --set model.tower=runs/student_full/model --output runs/mllm_full"),
    ("vla", "", "lerobot-train --policy.type=ma_vla --dataset.repo_id=local/metaworld "
                "--dataset.root=data/metaworld --policy.device=cuda --steps=100000 --output_dir=runs/vla_full"),
]


def reproduce(report, run_dir, budget, stages) -> None:
    report.text("The same commands at full scale, on GPUs (recipes in `recipes/`; the `*_full.yaml` recipes "
                "differ from the tiny ones only in their values).")
    report.code("\n".join(f"# {stage}\n{command}" for stage, _, command in FULL_SCALE))
