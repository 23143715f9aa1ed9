"""Letter-answer benchmarks: CV-Bench, BLINK, EmbSpatial-Bench, 3DSRBench, SAT.

Each ``score_*`` takes items (the benchmark's published fields plus ``prediction``) and returns
``(summary, per_item)``: ``summary`` maps metric names to fractions in [0, 1], ``per_item`` has
one dict per item with ``score`` (1.0 / 0.0), the parsed letter and the grouping fields. The
answer parsers and aggregation formulas follow the reference scorers named in each docstring.
"""

from __future__ import annotations

import string
from collections import defaultdict

from ma_vlm.benchmarks.spatial.answer_parsing import (
    blink_letter,
    leading_letter,
    sat_answer,
    sat_target,
    threedsr_letter,
)
from ma_vlm.errors import MaVlmInputError


def _prediction(item: dict) -> str:
    """The generation as lmms-eval hands it to a scorer: ``None`` -> "", whitespace stripped."""
    return (item.get("prediction") or "").strip()


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def _accuracy_by(per_item: list[dict], field: str) -> dict[str, float]:
    groups: dict[str, list[float]] = defaultdict(list)
    for row in per_item:
        groups[str(row[field])].append(row["score"])
    return {name: _mean(scores) for name, scores in sorted(groups.items())}


def _require(item: dict, fields: tuple[str, ...], benchmark: str) -> None:
    missing = [field for field in fields if field not in item]
    if missing:
        raise MaVlmInputError(
            f"{benchmark}: an item lacks the field(s) {missing}; each prediction line must carry "
            f"the benchmark's own fields {list(fields)} plus 'prediction'."
        )


def score_cv_bench(items: list[dict]) -> tuple[dict, list[dict]]:
    """CV-Bench (nyu-visionx/CV-Bench): ``answer`` "(C)", ``source`` ADE20K/COCO/Omni3D.

    ``accuracy`` is plain accuracy (lmms-eval's ``cv_bench_acc``); ``cv_bench_score`` is the
    official combined score ``((acc_ADE20K + acc_COCO) / 2 + acc_Omni3D) / 2``, present only
    when all three sources are. The letter is read by ``leading_letter``.
    """
    per_item = []
    for item in items:
        _require(item, ("answer", "source"), "cv_bench")
        parsed = leading_letter(_prediction(item))
        target = str(item["answer"]).strip("()")
        per_item.append({
            "id": item.get("idx"), "parsed": parsed, "target": target, "score": float(parsed == target),
            "source": item["source"], "type": item.get("type", ""), "task": item.get("task", ""),
        })  # fmt: skip
    by_source = _accuracy_by(per_item, "source")
    summary = {"accuracy": _mean(row["score"] for row in per_item)}
    if {"ADE20K", "COCO", "Omni3D"} <= by_source.keys():
        accuracy_2d = (by_source["ADE20K"] + by_source["COCO"]) / 2
        summary["accuracy_2d"] = accuracy_2d
        summary["accuracy_3d"] = by_source["Omni3D"]
        summary["cv_bench_score"] = (accuracy_2d + by_source["Omni3D"]) / 2
    summary.update({f"source/{name}": value for name, value in by_source.items()})
    summary.update({f"task/{name}": value for name, value in _accuracy_by(per_item, "task").items()})
    return summary, per_item


def score_blink(items: list[dict]) -> tuple[dict, list[dict]]:
    """BLINK (BLINK-Benchmark/BLINK, val split): ``answer`` "(A)", ``choices``, ``sub_task``.

    Letters are read by ``blink_letter`` limited to the item's own choices. ``accuracy`` is
    lmms-eval's ``blink`` group score: the unweighted mean of the sub-task accuracies
    (``blink_acc`` per sub-task, e.g. ``sub_task/Relative_Depth``); ``micro_accuracy`` is the
    mean over all items.
    """
    per_item = []
    for item in items:
        _require(item, ("answer", "sub_task"), "blink")
        valid = string.ascii_uppercase[: len(item.get("choices") or [])] or string.ascii_uppercase
        parsed = blink_letter(_prediction(item), valid)
        target = str(item["answer"]).strip("()")
        per_item.append({
            "id": item.get("idx"), "parsed": parsed, "target": target,
            "score": float(parsed == target), "sub_task": item["sub_task"],
        })  # fmt: skip
    by_task = _accuracy_by(per_item, "sub_task")
    summary = {"accuracy": _mean(by_task.values()), "micro_accuracy": _mean(r["score"] for r in per_item)}
    summary.update({f"sub_task/{name}": value for name, value in by_task.items()})
    return summary, per_item


def score_embspatial(items: list[dict]) -> tuple[dict, list[dict]]:
    """EmbSpatial-Bench (FlagEval/EmbSpatial-Bench): ``answer`` is an option index 0-3,
    ``relation`` the spatial relation, ``data_source`` ai2thor/mp3d/scannet.

    ``accuracy`` over all items, plus per relation and per data source; letters by
    ``leading_letter``.
    """
    per_item = []
    for item in items:
        _require(item, ("answer",), "embspatial")
        parsed = leading_letter(_prediction(item))
        target = "ABCD"[int(item["answer"])]
        per_item.append({
            "id": item.get("question_id"), "parsed": parsed, "target": target,
            "score": float(parsed == target), "relation": item.get("relation", ""),
            "data_source": item.get("data_source", "unknown"),
        })  # fmt: skip
    summary = {"accuracy": _mean(row["score"] for row in per_item)}
    summary.update({f"relation/{k}": v for k, v in _accuracy_by(per_item, "relation").items()})
    summary.update({f"data_source/{k}": v for k, v in _accuracy_by(per_item, "data_source").items()})
    return summary, per_item


THREEDSR_MAIN_CATEGORY = {
    "height_higher": "height",
    "location_above": "location",
    "location_closer_to_camera": "location",
    "location_next_to": "location",
    "orientation_in_front_of": "orientation",
    "orientation_on_the_left": "orientation",
    "orientation_viewpoint": "orientation",
    "multi_object_closer_to": "multi_object",
    "multi_object_facing": "multi_object",
    "multi_object_viewpoint_towards_object": "multi_object",
    "multi_object_parallel": "multi_object",
    "multi_object_same_direction": "multi_object",
}


def _all_correct_rate(per_item: list[dict], group_key) -> float:
    """Share of groups whose items are all correct (3DSRBench circular / flip evaluation)."""
    groups: dict[str, list[float]] = defaultdict(list)
    for row in per_item:
        groups[group_key(row["qid"])].append(row["score"])
    return _mean(float(all(s == 1.0 for s in scores)) for scores in groups.values())


def _circular_key(qid: str) -> str:
    # "ABCDEFGH-2" -> "ABCDEFGH"; "ABCDEFGH-flip-2" -> "ABCDEFGH-flip" (flips kept apart)
    return qid[:13] if "-flip" in qid else qid[:8]


def score_3dsrbench(items: list[dict]) -> tuple[dict, list[dict]]:
    """3DSRBench (``answer`` letter, ``category``, ``index``, optional ``qid``).

    ``vanilla_accuracy`` over items; with ``qid`` in the circular release ("XXXXXXXX",
    "XXXXXXXX-1", "XXXXXXXX-flip", "XXXXXXXX-flip-1"): ``circular_accuracy`` (all rotations of a
    question right, flips kept apart), ``flip_accuracy`` (a question and its flip both right)
    and ``flip_circular_accuracy`` (every variant of the 8-character base id right). Per main
    and detailed category accuracies too. Letters by ``threedsr_letter`` (case-sensitive).
    """
    per_item = []
    for item in items:
        _require(item, ("answer",), "3dsrbench")
        parsed = threedsr_letter(_prediction(item))
        category = item.get("category", "unknown")
        per_item.append({
            "id": item.get("index"), "qid": str(item.get("qid", item.get("index"))),
            "parsed": parsed, "target": item["answer"], "score": float(parsed == item["answer"]),
            "category": category, "main_category": THREEDSR_MAIN_CATEGORY.get(category, "other"),
        })  # fmt: skip
    summary = {"vanilla_accuracy": _mean(row["score"] for row in per_item)}
    if any("qid" in item for item in items):
        summary["flip_accuracy"] = _all_correct_rate(per_item, lambda q: q.replace("-flip", ""))
        summary["circular_accuracy"] = _all_correct_rate(per_item, _circular_key)
        summary["flip_circular_accuracy"] = _all_correct_rate(per_item, lambda q: q[:8])
    for name, value in _accuracy_by(per_item, "main_category").items():
        summary[f"{name}_accuracy"] = value
    for name, value in _accuracy_by(per_item, "category").items():
        summary[f"category/{name}"] = value
    return summary, per_item


def score_sat(items: list[dict]) -> tuple[dict, list[dict]]:
    """SAT (``question``, ``answers``, ``correct_answer_idx``), scored as lmms-eval's ``sat``
    task: its option filter, then exact match ignoring case and punctuation (``sat_answer``).
    Per ``question_type`` accuracies when items carry that field.
    """
    per_item = []
    for item in items:
        _require(item, ("question", "correct_answer_idx"), "sat")
        parsed = sat_answer(_prediction(item), item["question"])
        target = sat_target(item["correct_answer_idx"])
        per_item.append({
            "id": item.get("id"), "parsed": parsed, "target": target,
            "score": float(parsed == target), "question_type": item.get("question_type", ""),
        })  # fmt: skip
    summary = {"accuracy": _mean(row["score"] for row in per_item)}
    if any(row["question_type"] for row in per_item):
        summary.update({f"question_type/{k}": v for k, v in _accuracy_by(per_item, "question_type").items()})
    return summary, per_item
