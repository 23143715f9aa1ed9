"""SpatialBench (SpatialBot, BAAI-DCAI) with the per-file rules of its official evaluation.

The benchmark ships one JSON file per task; items carry ``task`` (the file's stem), ``answer``
and ``prediction``, in the file's order, because pairs are consecutive items:

- ``positional``: a response is right when it contains the answer (case-sensitive substring);
  score = share right.
- ``existence``: items (0, 1), (2, 3), ... are a positive/negative pair; a pair counts only when
  both are right; score = share of pairs.
- ``reach`` and ``size``: pairs again, worth 3 points each: one per right item plus one when both
  are right; score = points / (3 x pairs). (The official script routes ``size.json`` here.)
- ``counting``: relative error ``|int(response) - int(answer)| / int(answer)``; score =
  1 - mean error (it can go below 0). The official script crashes on a response ``int()``
  cannot read; we count such a response as a relative error of 1.0 and report how many there
  were under ``counting_unparseable``.

The official script prints percentages; scores here are the same numbers as fractions (x 100).
"""

from __future__ import annotations

from collections import defaultdict

from ma_vlm.errors import MaVlmInputError

SPATIALBENCH_TASKS = ("positional", "existence", "counting", "reach", "size")
PAIRED_TASKS = ("existence", "reach", "size")


def _contains_answer(item: dict) -> bool:
    return str(item["answer"]) in (item.get("prediction") or "")


def _counting_error(item: dict) -> float | None:
    """Relative counting error, ``None`` when the response is not an integer."""
    try:
        predicted = int(item.get("prediction") or "")
    except ValueError:
        return None
    target = int(item["answer"])
    return abs(predicted - target) / target


def score_spatialbench(items: list[dict]) -> tuple[dict, list[dict]]:
    """``(summary, per_item)``: summary has one score per task present, fractions."""
    by_task: dict[str, list[dict]] = defaultdict(list)
    for item in items:
        task = item.get("task")
        if task not in SPATIALBENCH_TASKS:
            raise MaVlmInputError(
                f"spatialbench: item task {task!r} is not one of {list(SPATIALBENCH_TASKS)}; set "
                "'task' to the stem of the JSON file the question came from."
            )
        if "answer" not in item:
            raise MaVlmInputError("spatialbench: an item lacks 'answer'; keep the benchmark's fields.")
        by_task[task].append(item)

    summary: dict[str, float] = {}
    per_item: list[dict] = []
    for task, task_items in by_task.items():
        if task in PAIRED_TASKS and len(task_items) % 2:
            raise MaVlmInputError(
                f"spatialbench: {task} has {len(task_items)} items but is scored in consecutive "
                "positive/negative pairs; keep the file's order and every item of each pair."
            )
        if task == "counting":
            errors = [_counting_error(item) for item in task_items]
            summary["counting_unparseable"] = float(sum(e is None for e in errors))
            errors = [1.0 if e is None else e for e in errors]
            summary[task] = 1.0 - sum(errors) / len(errors)
            per_item += [{"task": task, "id": it.get("id"), "score": 1.0 - e} for it, e in zip(task_items, errors)]
            continue
        right = [float(_contains_answer(item)) for item in task_items]
        per_item += [{"task": task, "id": it.get("id"), "score": r} for it, r in zip(task_items, right)]
        pairs = list(zip(right[0::2], right[1::2]))
        if task == "positional":
            summary[task] = sum(right) / len(right)
        elif task == "existence":
            summary[task] = sum(a * b for a, b in pairs) / len(pairs)
        else:  # reach, size: 3 points a pair
            summary[task] = sum(a + b + a * b for a, b in pairs) / (3 * len(pairs))
    return summary, per_item
