"""VSI-Bench scoring exactly as lmms-eval 0.7.x computes it, reusable for VSI-style benchmarks.

Per item:
- multiple-choice answer (MCA) types: the response's first token (``vsibench_first_token``)
  must equal the ground-truth letter, case-insensitively -> 1.0 or 0.0;
- numerical answer (NA) types: Mean Relative Accuracy of ``extract_number(response)`` against
  ``float(ground_truth)``: the fraction of the ten thresholds theta = 0.50, 0.55, ..., 0.95 with
  ``|pred - gt| / gt <= 1 - theta``; an unparseable response scores 0.0.

Aggregate: the mean per question type (``{type}_accuracy`` or ``{type}_MRA:.5:.95:.05``), the
three ``object_rel_direction_{easy,medium,hard}`` means averaged into
``object_rel_direction_accuracy``, and ``overall`` = the mean of the resulting subscores (eight
on the full benchmark). All values are fractions in [0, 1]; lmms-eval reports each aggregate
rounded to 6 decimals, ``round(value, 6)`` gives the same figure.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ma_vlm.benchmarks.spatial.answer_parsing import (
    extract_number,
    to_float,
    vsibench_first_token,
)
from ma_vlm.errors import MaVlmInputError

MRA_METRIC = "MRA:.5:.95:.05"
# theta = 0.50, 0.55, ..., 0.95: ten thresholds, built as lmms-eval builds them so float
# comparisons at the boundaries agree bit for bit.
MRA_THRESHOLDS = np.linspace(0.5, 0.95, 10)
REL_DIRECTION_TYPES = (
    "object_rel_direction_easy",
    "object_rel_direction_medium",
    "object_rel_direction_hard",
)
VSIBENCH_MCA_TYPES = (*REL_DIRECTION_TYPES, "object_rel_distance", "route_planning", "obj_appearance_order")
VSIBENCH_NA_TYPES = ("object_abs_distance", "object_counting", "object_size_estimation", "room_size_estimation")


def mean_relative_accuracy(predicted: float | None, target: float | None) -> float:
    """MRA in [0, 1]: the share of thresholds theta in 0.50..0.95 where the relative error
    ``|predicted - target| / target`` is at most ``1 - theta``. 0.0 if either is ``None``."""
    if predicted is None or target is None:
        return 0.0
    if target == 0:
        raise MaVlmInputError(
            "a numerical ground truth of 0 has no relative error (VSI-Bench never asks one); "
            "drop that item or ask a multiple-choice question instead."
        )
    relative_error = abs(predicted - target) / target
    return float(np.mean(relative_error <= 1 - MRA_THRESHOLDS))


@dataclass(frozen=True)
class VsiStyleScorer:
    """Scores items with VSI-Bench's rules; the question types (and so the benchmark) vary.

    ``mca_types`` are scored by accuracy, ``na_types`` by MRA; any other ``question_type``
    is an error, as in the reference.
    """

    name: str
    mca_types: tuple[str, ...]
    na_types: tuple[str, ...]

    def score_item(self, item: dict) -> dict:
        """{"question_type", "metric", "score"} for one item with ``prediction`` and
        ``ground_truth`` fields (the prediction is whitespace-stripped, as lmms-eval does)."""
        question_type = item.get("question_type")
        if "ground_truth" not in item:
            raise MaVlmInputError(
                f"{self.name}: an item lacks 'ground_truth'; each prediction line must carry the "
                "benchmark's own fields (question_type, ground_truth) plus 'prediction'."
            )
        prediction = (item.get("prediction") or "").strip()
        if question_type in self.mca_types:
            target = str(item["ground_truth"])
            score = 1.0 if vsibench_first_token(prediction).lower() == target.lower() else 0.0
            return {"question_type": question_type, "metric": "accuracy", "score": score}
        if question_type in self.na_types:
            score = mean_relative_accuracy(extract_number(prediction), to_float(item["ground_truth"]))
            return {"question_type": question_type, "metric": MRA_METRIC, "score": score}
        raise MaVlmInputError(
            f"{self.name}: unknown question_type {question_type!r}; expected one of "
            f"{sorted(self.mca_types + self.na_types)}."
        )

    def aggregate(self, item_scores: list[dict]) -> dict[str, float]:
        """lmms-eval's subscore dict: per-type means, merged relative direction, ``overall``.

        When only some of the three relative-direction difficulties are present (a subset run),
        their mean is taken over those present; the reference needs all three.
        """
        by_type: dict[str, list[float]] = defaultdict(list)
        metric_of: dict[str, str] = {}
        for row in item_scores:
            by_type[row["question_type"]].append(row["score"])
            metric_of[row["question_type"]] = row["metric"]
        subscores = {
            f"{qtype}_{metric_of[qtype]}": float(np.mean(scores))
            for qtype, scores in sorted(by_type.items())
        }
        direction_keys = [f"{t}_accuracy" for t in REL_DIRECTION_TYPES if f"{t}_accuracy" in subscores]
        if direction_keys:
            values = [subscores.pop(key) for key in direction_keys]
            subscores["object_rel_direction_accuracy"] = sum(values) / len(values)
        if subscores:
            subscores["overall"] = sum(subscores.values()) / len(subscores)
        return subscores


VSIBENCH = VsiStyleScorer("vsibench", VSIBENCH_MCA_TYPES, VSIBENCH_NA_TYPES)
