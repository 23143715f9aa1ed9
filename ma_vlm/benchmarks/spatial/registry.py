"""The benchmarks ma-vlm knows, by name: where their data lives, how to prompt, how to score.

``get_benchmark("cv_bench")`` returns a ``Benchmark``; ``BENCHMARKS`` lists them all. Each one's
``score(items)`` returns ``(summary, per_item)`` with fractions in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ma_vlm.benchmarks.spatial import question_prompts
from ma_vlm.benchmarks.spatial.multiple_choice import (
    score_3dsrbench,
    score_blink,
    score_cv_bench,
    score_embspatial,
    score_sat,
)
from ma_vlm.benchmarks.spatial.spatialbench import score_spatialbench
from ma_vlm.benchmarks.spatial.synthspatial.questions import SYNTHSPATIAL
from ma_vlm.benchmarks.spatial.vsibench import VSIBENCH, VsiStyleScorer
from ma_vlm.errors import MaVlmInputError


def _vsi_style(scorer: VsiStyleScorer) -> Callable[[list[dict]], tuple[dict, list[dict]]]:
    def score(items: list[dict]) -> tuple[dict, list[dict]]:
        per_item = []
        for index, item in enumerate(items):
            row = scorer.score_item(item)
            row["id"] = item.get("id", index)
            per_item.append(row)
        return scorer.aggregate(per_item), per_item

    return score


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: its Hub location, id field, prompt builder, scorer and headline metric."""

    name: str
    hub_id: str | None  # Hugging Face dataset id; None = generated locally (needs --data)
    hub_configs: tuple[str | None, ...]  # Hub configs (subsets) read and concatenated by default
    split: str
    id_field: str
    prompt: Callable  # (item, root) -> (images, text)
    score: Callable[[list[dict]], tuple[dict, list[dict]]]
    headline: str  # the summary key papers report
    max_new_tokens: int = 16


# BLINK sub-tasks that test spatial perception (each a Hub config of BLINK-Benchmark/BLINK).
BLINK_SPATIAL_SUBTASKS = ("Relative_Depth", "Spatial_Relation", "Multi-view_Reasoning", "Object_Localization", "Counting")
# 3DSRBench: "3dsr" (vanilla) or "3dsr_circular" (circular + flip variants, needs all of them).
BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in [
        Benchmark("vsibench", "nyu-visionx/VSI-Bench", ("full",), "test", "id", question_prompts.vsibench_prompt,
                  _vsi_style(VSIBENCH), "overall"),
        Benchmark("synthspatial", None, (None,), "test", "id", question_prompts.synthspatial_prompt,
                  _vsi_style(SYNTHSPATIAL), "overall"),
        Benchmark("cv_bench", "nyu-visionx/CV-Bench", ("default",), "test", "idx", question_prompts.cv_bench_prompt,
                  score_cv_bench, "cv_bench_score"),
        Benchmark("blink", "BLINK-Benchmark/BLINK", BLINK_SPATIAL_SUBTASKS, "val", "idx", question_prompts.blink_prompt,
                  score_blink, "accuracy"),
        Benchmark("embspatial", "FlagEval/EmbSpatial-Bench", (None,), "test", "question_id",
                  question_prompts.embspatial_prompt, score_embspatial, "accuracy"),
        Benchmark("3dsrbench", "oscarqjh/3DSRBench_lmmseval", ("3dsr",), "test", "index",
                  question_prompts.threedsr_prompt, score_3dsrbench, "vanilla_accuracy"),
        Benchmark("sat", "nv-njb/SAT", (None,), "test", "id", question_prompts.sat_prompt, score_sat, "accuracy"),
        Benchmark("spatialbench", "RussRobin/SpatialBench", (None,), "test", "id",
                  question_prompts.spatialbench_prompt, score_spatialbench, "positional", max_new_tokens=32),
    ]
}  # fmt: skip


def get_benchmark(name: str) -> Benchmark:
    """The ``Benchmark`` called ``name``; an unknown name lists the valid ones."""
    key = name.lower().replace("-", "_")
    key = {"cvbench": "cv_bench", "vsi_bench": "vsibench", "3dsr": "3dsrbench", "embspatial_bench": "embspatial"}.get(key, key)
    if key not in BENCHMARKS:
        raise MaVlmInputError(f"unknown benchmark {name!r}; choose one of: {', '.join(BENCHMARKS)}.")
    return BENCHMARKS[key]
