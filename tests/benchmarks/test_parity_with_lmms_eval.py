"""Our scorers against lmms-eval 0.7.x's own scoring functions, on the same predictions.

lmms-eval's task modules import the whole harness (~40 s), so the functions are taken from its
installed source files with ``ast`` and run alone. Skipped when lmms-eval is not installed
(it is the optional ``[eval]`` extra).
"""

import ast
import importlib.util
import pathlib
import random
import re
import string
from collections import defaultdict
from functools import partial
from typing import Any, Optional

import numpy as np
import pytest

from ma_vlm.benchmarks.spatial.answer_parsing import (
    blink_letter,
    leading_letter,
    sat_answer,
    sat_target,
    threedsr_letter,
)
from ma_vlm.benchmarks.spatial.multiple_choice import score_3dsrbench, score_cv_bench
from ma_vlm.benchmarks.spatial.vsibench import VSIBENCH, VSIBENCH_MCA_TYPES, VSIBENCH_NA_TYPES

spec = importlib.util.find_spec("lmms_eval")
if spec is None:
    pytest.skip("lmms-eval is not installed (pip install 'ma-vlm[eval]')", allow_module_level=True)
TASKS = pathlib.Path(spec.origin).parent / "tasks"


def reference(path, names):
    """The named top-level functions/constants (or ``Class.method``) of a reference file."""
    tree = ast.parse(pathlib.Path(path).read_text())
    wanted = []
    for node in tree.body:
        target = getattr(node, "name", None) or getattr(getattr(node, "targets", [None])[0], "id", None)
        if target in names:
            wanted.append(node)
        if isinstance(node, ast.ClassDef):
            wanted += [m for m in node.body if f"{node.name}.{getattr(m, 'name', '')}" in names]
    import pandas as pd

    namespace = {"re": re, "string": string, "np": np, "pd": pd, "partial": partial, "defaultdict": defaultdict,
                 "Optional": Optional, "Dict": dict, "List": list, "Any": Any}
    code = compile(ast.Module(body=wanted, type_ignores=[]), str(path), "exec")
    exec(code, namespace)  # noqa: S102 -- lmms-eval's own scoring functions, from its installed files
    return namespace


RESPONSES = [
    "3", "three", "Three boxes.", "twenty-one", "three hundred and five", "5 or 6", "350 cm", "1.75 meters",
    "-2", "one apple, room 2", "", "no idea", "B", "b", "B.", "(B)", "(C)", "C) lamp", "The answer is B",
    "B\nbecause", "  a ", "Answer: D", "I pick (D).", "0.5", "2.25m", "A. left", "back-left", "eleven",
    "a thousand", "1,200", "4.0.1", "seven and a half",
]  # fmt: skip


def test_vsibench_items_and_aggregate_match_lmms_eval():
    ref = reference(TASKS / "vsibench" / "utils.py", {
        "_NUMBER_WORDS", "_NUM_RE", "MCA_QUESTION_TYPES", "NA_QUESTION_TYPES", "METRICS_FOR_MCA",
        "METRICS_FOR_NA", "WORST_CASE_FOR_METRICS", "fuzzy_matching", "exact_match", "abs_dist_norm",
        "mean_relative_accuracy", "to_float", "extract_number", "_compute_all_subscores",
    })  # fmt: skip
    assert tuple(ref["MCA_QUESTION_TYPES"]) == VSIBENCH_MCA_TYPES
    assert tuple(ref["NA_QUESTION_TYPES"]) == VSIBENCH_NA_TYPES
    rng = random.Random(0)
    docs = []
    for index in range(400):
        qtype = rng.choice(VSIBENCH_MCA_TYPES + VSIBENCH_NA_TYPES)
        truth = rng.choice("ABCD") if qtype in VSIBENCH_MCA_TYPES else rng.choice(["3", "2.2", "4.4", "1.75", "300", "12"])
        docs.append({"id": index, "question_type": qtype, "ground_truth": truth, "prediction": rng.choice(RESPONSES)})

    ours = []
    for doc in docs:
        row = VSIBENCH.score_item(doc)
        prediction = doc["prediction"].strip()  # the harness strips generations before scoring
        if doc["question_type"] in VSIBENCH_MCA_TYPES:
            expected = ref["exact_match"](ref["fuzzy_matching"](prediction), doc["ground_truth"])
            doc["accuracy"] = expected
        else:
            try:
                expected = ref["mean_relative_accuracy"](ref["extract_number"](prediction),
                                                         ref["to_float"](doc["ground_truth"]), .5, .95, .05)
            except TypeError:
                expected = 0.0
            doc["MRA:.5:.95:.05"] = expected
        assert row["score"] == expected, doc
        ours.append(row)
    assert VSIBENCH.aggregate(ours) == ref["_compute_all_subscores"](docs)


def test_letter_parsers_match_lmms_eval():
    blink = reference(TASKS / "blink" / "utils.py", {"_extract_answer_letter"})["_extract_answer_letter"]
    cv = reference(TASKS / "cv_bench" / "utils.py", {"_extract_answer_letter"})["_extract_answer_letter"]
    emb = reference(TASKS / "embspatial" / "utils.py", {"_extract_answer_letter"})["_extract_answer_letter"]
    threedsr = reference(TASKS / "3dsrbench" / "utils.py", {"extract_answer"})["extract_answer"]
    sat_filter = reference(TASKS / "sat" / "utils.py", {"MultiChoiceRegexFilter.apply"})["apply"]
    exact = reference(TASKS.parent / "api" / "metrics.py", {"exact_match_hf_evaluate"})["exact_match_hf_evaluate"]
    question = "Which object is closer?\nA. red box\nB. blue ball"
    for response in RESPONSES + ["the blue ball", "red box!"]:
        text = response.strip()
        assert blink_letter(text, "ABCD") == blink(text, "ABCD"), response
        assert leading_letter(text) == cv(text) == emb(text), response
        assert threedsr_letter(text) == threedsr(text), response
        for q in (question, "Is the camera moving left?"):
            filtered = sat_filter(None, [[response]], [{"question": q}])[0].strip()
            for truth in (0, 1):
                expected = exact(predictions=[filtered], references=[chr(65 + truth)],
                                 ignore_case=True, ignore_punctuation=True)["exact_match"]
                assert float(sat_answer(response, q) == sat_target(truth)) == expected, (response, q)


def test_cv_bench_and_3dsrbench_aggregates_match_lmms_eval():
    cv = reference(TASKS / "cv_bench" / "utils.py", {"_extract_answer_letter", "cv_bench_process_results",
                                                      "cv_bench_aggregate_results", "cv_bench_default_aggregate_results"})
    rng = random.Random(1)
    items = [{"idx": i, "type": "2D", "task": "Count", "source": rng.choice(["ADE20K", "COCO", "Omni3D"]),
              "answer": f"({rng.choice('ABCD')})", "prediction": rng.choice(RESPONSES)} for i in range(200)]
    results = [cv["cv_bench_process_results"](it, [it["prediction"].strip()])["cv_bench_acc"] for it in items]
    scores, _ = score_cv_bench(items)
    assert scores["accuracy"] == cv["cv_bench_aggregate_results"](results)
    assert scores["cv_bench_score"] == pytest.approx(cv["cv_bench_default_aggregate_results"](results), abs=1e-15)

    sr = reference(TASKS / "3dsrbench" / "utils.py", {
        "CATEGORY_MAPPING", "extract_answer", "get_qid_key", "get_main_category", "aggregate_vanilla_accuracy",
        "aggregate_flip_accuracy", "aggregate_circular_accuracy", "aggregate_flip_circular_accuracy",
    })  # fmt: skip
    items = []
    for base in range(40):
        for suffix in ["", "-1", "-2", "-flip", "-flip-1", "-flip-2"]:
            qid = f"Q{base:07d}{suffix}"
            items.append({"index": qid, "qid": qid, "answer": rng.choice("ABCD"), "category": "height_higher",
                          "prediction": rng.choice(["A", "B", "C", "D", "c", "(A)"])})
    results = [{"qid": it["qid"], "score": float(sr["extract_answer"](it["prediction"].strip()) == it["answer"])}
               for it in items]
    scores, _ = score_3dsrbench(items)
    for name in ("vanilla", "flip", "circular", "flip_circular"):
        assert scores[f"{name}_accuracy"] == sr[f"aggregate_{name}_accuracy"](results), name
