"""The depth evaluation runner: predictor x benchmark x prompt -> metrics JSON.

A predictor is any callable ``predict(image, intrinsics, prompt_depth) -> depth``:
image (H, W, 3) uint8, intrinsics [fx, fy, cx, cy] pixels, prompt_depth (H, W) float32 metres
with 0 = missing or ``None``; it returns (H, W) float32 metres. ``load_predictor`` builds one
from ``baseline:nearest`` / ``baseline:linear`` or a Metric Anything model folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ma_vlm.atomic_io import write_json_atomic
from ma_vlm.benchmarks.depth.metrics import EvalProtocol, depth_metrics, mean_metrics
from ma_vlm.benchmarks.depth.readers import DepthBenchmark
from ma_vlm.errors import MaVlmInputError


def load_predictor(model: str):
    """``baseline:nearest`` | ``baseline:linear`` | ``baseline:median_oracle`` | a folder saved by
    ``MetricAnythingForDepthEstimation.save_pretrained`` (with its image processor)."""
    if model == "baseline:median_oracle":
        from ma_vlm.benchmarks.depth.baselines import MedianOracle

        return MedianOracle()
    if model.startswith("baseline:"):
        from ma_vlm.benchmarks.depth.baselines import InterpolationBaseline

        return InterpolationBaseline(model.split(":", 1)[1])
    if not Path(model).is_dir():
        raise MaVlmInputError(
            f"--model {model!r} is neither baseline:nearest, baseline:linear, baseline:median_oracle "
            "nor a model folder."
        )
    import torch

    from ma_vlm.depth.inference import load_depth_model, predict_metric_depth
    from ma_vlm.models.metric_anything import MetricAnythingImageProcessor

    network = load_depth_model(model)
    processor = MetricAnythingImageProcessor.from_pretrained(model)

    def predict(image, intrinsics, prompt_depth):
        with torch.inference_mode():
            return predict_metric_depth(network, processor, image, prompt_depth=prompt_depth,
                                        intrinsics=[float(v) for v in intrinsics])

    return predict


def _prompt_for(sample: dict, prompt_spec: str | None, sampler, seed: int, index: int):
    if prompt_spec is None:
        return None
    if prompt_spec == "sensor":
        if "sensor_depth" not in sample:
            raise MaVlmInputError("--prompt sensor needs a benchmark with its own sparse sensor depth (KITTI).")
        return sample["sensor_depth"].astype(np.float32)
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    return sampler(sample["depth"], rng)


def evaluate_depth(predict, benchmark: DepthBenchmark, prompt_spec: str | None = None,
                   protocol: EvalProtocol | None = None, seed: int = 0, limit: int | None = None,
                   progress: bool = True) -> dict:
    """Run ``predict`` on every sample; returns the report (per-image-mean metrics + per image).

    Prompts are sampled from the ground-truth depth (as in Prompt Depth Anything's NYUv2
    protocol), seeded by ``(seed, sample index)``; ``prompt_spec="sensor"`` uses the
    benchmark's own sensor depth instead.
    """
    from tqdm.auto import tqdm

    from ma_vlm.data.sparse_prompts import parse_prompt_spec

    protocol = protocol or benchmark.protocol
    sampler = None if prompt_spec in (None, "sensor") else parse_prompt_spec(prompt_spec)
    per_image, skipped = [], []
    total = benchmark.num_samples if limit is None else min(limit, benchmark.num_samples)
    for index, sample in enumerate(tqdm(benchmark.samples(), total=total, disable=not progress, desc="eval")):
        if index >= total:
            break
        prompt = _prompt_for(sample, prompt_spec, sampler, seed, index)
        # An oracle baseline (baseline:median_oracle) also reads the ground truth.
        extra = {"ground_truth": sample["depth"]} if getattr(predict, "needs_ground_truth", False) else {}
        predicted = np.asarray(predict(sample["image"], sample["intrinsics"], prompt, **extra), np.float32)
        metrics = depth_metrics(predicted, sample["depth"], protocol)
        if metrics is None:
            skipped.append(sample["scene_id"])
            continue
        per_image.append({"scene_id": sample["scene_id"], **metrics})
    return {
        "benchmark": benchmark.name,
        "prompt": prompt_spec or "none",
        "seed": seed,
        "protocol": {"min_depth_m": protocol.min_depth_m, "max_depth_m": protocol.max_depth_m,
                     "crop": protocol.crop, "aggregation": "per-image mean"},
        "num_images": len(per_image),
        "skipped_without_valid_depth": skipped,
        "metrics": mean_metrics(per_image),
        "per_image": per_image,
    }


def write_report(report: dict, path: str | Path) -> Path:
    """Write the report as JSON atomically (tmp + os.replace)."""
    path = Path(path)
    write_json_atomic(path, report)
    return path
