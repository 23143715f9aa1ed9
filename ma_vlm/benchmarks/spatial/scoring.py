"""Score predictions with a benchmark's reference rules and format the result.

A report is ``{"benchmark", "num_items", "headline", "scores", "per_item"}``: ``scores`` holds
the benchmark's summary metrics as fractions in [0, 1] (for VSI-Bench and SynthSpatial the
same keys as lmms-eval's aggregate: ``overall``, ``object_counting_MRA:.5:.95:.05``,
``object_rel_direction_accuracy`` ...), ``per_item`` one score per item.
"""

from __future__ import annotations

from ma_vlm.atomic_io import write_json_atomic
from ma_vlm.benchmarks.spatial.io import read_jsonl
from ma_vlm.benchmarks.spatial.registry import get_benchmark
from ma_vlm.errors import MaVlmInputError


def score_items(benchmark_name: str, items: list[dict]) -> dict:
    """The report for items that carry the benchmark's fields plus ``prediction``."""
    benchmark = get_benchmark(benchmark_name)
    if not items:
        raise MaVlmInputError("no predictions to score; the file holds no JSON lines.")
    for number, item in enumerate(items, start=1):
        if "prediction" not in item:
            raise MaVlmInputError(f"item {number} has no 'prediction' field; add the model's answer text.")
    scores, per_item = benchmark.score(items)
    return {
        "benchmark": benchmark.name,
        "num_items": len(items),
        "headline": benchmark.headline,
        "scores": scores,
        "per_item": per_item,
    }


def score_file(benchmark_name: str, predictions_path: str, output_path: str | None = None) -> dict:
    """Score a JSONL prediction file; write the report atomically to ``output_path``."""
    get_benchmark(benchmark_name)  # a wrong name is reported before the file is read
    report = score_items(benchmark_name, read_jsonl(predictions_path))
    if output_path:
        write_json_atomic(output_path, report)
    return report


def format_table(report: dict) -> str:
    """A two-column text table of the summary scores, in percent, headline first."""
    scores = report["scores"]
    keys = sorted(scores, key=lambda k: (k != report["headline"], k))
    width = max(len(k) for k in keys) if keys else 10
    lines = [f"{report['benchmark']} ({report['num_items']} items)", "-" * (width + 10)]
    for key in keys:
        value = scores[key]
        shown = f"{value:8.0f}" if key.endswith("_unparseable") else f"{100 * value:8.2f}"
        lines.append(f"{key:<{width}}  {shown}")
    return "\n".join(lines)
