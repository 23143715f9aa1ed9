"""The few steps between commands that no command does: take a rendered held-out image out of its
dataset (image, `<stem>.json` camera, ground-truth depth, a sparse prompt), and score the per-image
median oracle. Each writes its files atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ma_vlm.atomic_io import atomic_path, write_json_atomic, write_text_atomic

HELDOUT_IMAGE = "heldout_0"
PROMPT_SPEC = "lidar:64"
SPATIAL_QUESTION = "How far from the camera is the nearest object, in metres?"


def export_depth_sources(heldout_dir: Path, teacher_recipe: Path, output: Path, index: int = 0) -> None:
    """Row `index` of a `ma-vlm data generate` folder as each depth source of the teacher recipe
    (`data.sources`; "render" is the clean depth) sees it -> OUTPUT (.npz: `image` (H, W, 3)
    uint8, then one (H, W) metres array per source, 0 = no depth), for the report's figure."""
    from ma_vlm.data.loading import load_rgbd_dataset
    from ma_vlm.data.noise import apply_source
    from ma_vlm.data.schema import decode_record
    from ma_vlm.pretrain.recipe import load_recipe

    sources = list(load_recipe(teacher_recipe).data.sources)
    record = decode_record(load_rgbd_dataset(heldout_dir)[index])
    views = {name: (record["depth"] if name == "render" else apply_source(record, name, seed=0)["depth"])
             for name in sources}
    with atomic_path(output) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, image=record["image"], **{name: np.asarray(depth, np.float32)
                                                              for name, depth in views.items()})


def export_heldout_image(heldout_dir: Path, images_dir: Path, index: int = 0) -> None:
    """Row `index` of a `ma-vlm data generate` folder -> IMAGES/heldout_<i>.png, .json
    (`{"cam_in": [fx, fy, cx, cy]}` pixels), _depth.npy ((H, W) metres, 0 = invalid) and
    _prompt_lidar64.npy (a LiDAR-like sparse prompt from the ground truth, metres, 0 = missing)."""
    from PIL import Image

    from ma_vlm.data.loading import load_rgbd_dataset
    from ma_vlm.data.schema import decode_record
    from ma_vlm.data.sparse_prompts import parse_prompt_spec
    from ma_vlm.visualize import save_npy

    record = decode_record(load_rgbd_dataset(heldout_dir)[index])
    stem = images_dir / f"heldout_{index}"
    prompt = parse_prompt_spec(PROMPT_SPEC)(record["depth"], np.random.default_rng(0))
    save_npy(record["depth"].astype(np.float32), f"{stem}_depth.npy")
    save_npy(prompt.astype(np.float32), f"{stem}_prompt_{PROMPT_SPEC.replace(':', '')}.npy")
    write_json_atomic(f"{stem}.json", {"cam_in": [float(v) for v in record["intrinsics"]],
                                       "source": f"{heldout_dir} row {index}"})
    with atomic_path(f"{stem}.png") as tmp:
        Image.fromarray(record["image"]).save(tmp, format="PNG")


def score_median_oracle(data_dir: Path, output: Path) -> dict:
    """Predict each image's true median depth everywhere and score it like `ma-vlm eval depth`.

    The oracle knows the ground truth's median, so it has the right scale and no structure: a
    prompt-free model that does not beat it has learned no depth. Same report fields as
    `ma-vlm eval depth` (`metrics`, `num_images`, `per_image`).
    """
    from tqdm.auto import tqdm

    from ma_vlm.benchmarks.depth.metrics import depth_metrics, mean_metrics
    from ma_vlm.benchmarks.depth.readers import open_depth_benchmark

    benchmark = open_depth_benchmark(data_dir)
    per_image = []
    for sample in tqdm(benchmark.samples(), total=benchmark.num_samples, desc="median oracle"):
        depth = np.asarray(sample["depth"], np.float32)
        valid = np.isfinite(depth) & (depth > 0)
        if not valid.any():
            continue
        predicted = np.full_like(depth, float(np.median(depth[valid])))
        metrics = depth_metrics(predicted, depth, benchmark.protocol)
        if metrics is not None:
            per_image.append({"scene_id": sample["scene_id"], **metrics})
    report = {"benchmark": benchmark.name, "model": "median_oracle", "data": str(data_dir), "prompt": "none",
              "num_images": len(per_image), "metrics": mean_metrics(per_image), "per_image": per_image}
    write_json_atomic(output, report)
    print(f"median oracle ({len(per_image)} images): AbsRel {report['metrics']['abs_rel']:.4f} -> {output}")
    return report


def save_untrained_copy(model_dir: Path, output: Path) -> None:
    """The architecture of `model_dir` with fresh weights (the model's own init), saved with its
    image processor: the no-depth-pretraining arm of an ablation, same size and layout."""
    import torch
    from transformers import AutoConfig, AutoImageProcessor, AutoModelForDepthEstimation

    import ma_vlm  # noqa: F401  registers the Auto classes

    torch.manual_seed(0)
    model = AutoModelForDepthEstimation.from_config(AutoConfig.from_pretrained(model_dir, trust_remote_code=False))
    model.save_pretrained(output)
    AutoImageProcessor.from_pretrained(model_dir, trust_remote_code=False).save_pretrained(output)


def record_models(output: Path, teacher: Path, student: Path, origin: str) -> None:
    """RUN/models.json: which teacher and student folders the later stages use, and where they came from."""
    write_json_atomic(output, {"teacher": str(teacher), "student": str(student), "origin": origin})


def read_models(run_dir: Path) -> dict:
    path = run_dir / "models.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def write_lines(path: Path, lines: list[str]) -> None:
    write_text_atomic(path, "\n".join(lines) + "\n")
