"""CV-Bench, BLINK, EmbSpatial, 3DSRBench and SAT: each reference parser's edge cases and the
published aggregation formulas, on hand-built predictions."""

import pytest

from ma_vlm.benchmarks.spatial.answer_parsing import (
    blink_letter,
    leading_letter,
    sat_answer,
    threedsr_letter,
)
from ma_vlm.benchmarks.spatial.multiple_choice import (
    score_3dsrbench,
    score_blink,
    score_cv_bench,
    score_embspatial,
    score_sat,
)

RESPONSES = ["C", "c", "(C)", "C.", "C) the lamp", "The answer is C", "", "  c  ", "I pick (C).", "Answer: C"]


def test_each_reference_parser_reads_the_same_responses_differently():
    # CV-Bench / EmbSpatial: first letter after "(" and spaces, any case.
    assert [leading_letter(r) for r in RESPONSES] == ["C", "C", "C", "C", "C", "T", "", "C", "I", "A"]
    # BLINK: terse first line, then "answer is X", then "(X)", then a leading valid letter.
    assert [blink_letter(r, "ABCD") for r in RESPONSES] == ["C", "C", "C", "C", "C", "C", "", "C", "C", "C"]
    # 3DSRBench: upper-case A-D patterns only, so "c" is unread (None).
    assert [threedsr_letter(r) for r in RESPONSES] == ["C", None, "C", "C", "C", "C", None, None, "C", "C"]
    # SAT: punctuation dropped, first word, lower-cased.
    assert [sat_answer(r, "Which way?") for r in RESPONSES] == ["c", "c", "c", "c", "c", "the", "", "c", "i", "answer"]


def test_sat_maps_option_text_in_the_question_back_to_its_letter():
    question = "Which object is closer?\nA. red box\nB. blue ball"
    assert sat_answer("the blue ball", question) == "b"


def cv_item(source, answer, prediction):
    return {"idx": 0, "source": source, "type": "3D" if source == "Omni3D" else "2D",
            "task": "Depth", "answer": answer, "prediction": prediction}


def test_cv_bench_combined_score_is_mean_of_2d_and_3d():
    items = [
        cv_item("ADE20K", "(A)", "A"), cv_item("ADE20K", "(B)", "A"),  # ADE20K 0.5
        cv_item("COCO", "(C)", "(c)"),  # COCO 1.0
        cv_item("Omni3D", "(A)", "b"), cv_item("Omni3D", "(B)", "B"),
        cv_item("Omni3D", "(B)", "B."), cv_item("Omni3D", "(A)", ""),  # Omni3D 0.5
    ]
    scores, per_item = score_cv_bench(items)
    assert scores["accuracy"] == pytest.approx(4 / 7)
    assert scores["accuracy_2d"] == pytest.approx((0.5 + 1.0) / 2)
    assert scores["cv_bench_score"] == pytest.approx(((0.5 + 1.0) / 2 + 0.5) / 2)
    assert [row["score"] for row in per_item] == [1, 0, 1, 0, 1, 1, 0]


def test_blink_overall_is_the_unweighted_mean_of_sub_tasks():
    items = [
        {"idx": 1, "sub_task": "Relative_Depth", "choices": ["A", "B"], "answer": "(A)", "prediction": "(A)"},
        {"idx": 2, "sub_task": "Relative_Depth", "choices": ["A", "B"], "answer": "(B)", "prediction": "a"},
        {"idx": 3, "sub_task": "Relative_Depth", "choices": ["A", "B"], "answer": "(B)", "prediction": "B"},
        {"idx": 4, "sub_task": "Spatial_Relation", "choices": ["yes", "no"], "answer": "(A)",
         "prediction": "The answer is (A)."},
    ]
    scores, _ = score_blink(items)
    assert scores["sub_task/Relative_Depth"] == pytest.approx(2 / 3)
    assert scores["accuracy"] == pytest.approx((2 / 3 + 1) / 2)
    assert scores["micro_accuracy"] == 0.75


def test_blink_ignores_letters_beyond_the_items_choices():
    item = {"idx": 1, "sub_task": "Relative_Depth", "choices": ["x", "y"], "answer": "(B)", "prediction": "D B"}
    assert score_blink([item])[1][0]["parsed"] == ""  # "D" is not an option, nothing else reads as one


def test_embspatial_answer_index_and_per_source_accuracy():
    items = [
        {"question_id": "q1", "answer": 2, "relation": "left", "data_source": "mp3d", "prediction": "C"},
        {"question_id": "q2", "answer": 0, "relation": "left", "data_source": "scannet", "prediction": "(a)"},
        {"question_id": "q3", "answer": 3, "relation": "above", "data_source": "scannet", "prediction": "C"},
    ]
    scores, _ = score_embspatial(items)
    assert scores == {"accuracy": pytest.approx(2 / 3), "relation/above": 0.0, "relation/left": 1.0,
                      "data_source/mp3d": 1.0, "data_source/scannet": 0.5}


def test_3dsrbench_circular_and_flip_need_every_variant_right():
    def item(qid, prediction, category="height_higher"):
        return {"index": qid, "qid": qid, "answer": "A", "category": category, "prediction": prediction}

    items = [
        item("QID00001", "A"), item("QID00001-1", "A"), item("QID00001-flip", "A"), item("QID00001-flip-1", "a"),
        item("QID00002", "A", "location_above"), item("QID00002-1", "A", "location_above"),
    ]
    scores, _ = score_3dsrbench(items)
    assert scores["vanilla_accuracy"] == pytest.approx(5 / 6)
    # circular groups: QID00001 (right), QID00001-flip (wrong: lower-case "a"), QID00002 (right)
    assert scores["circular_accuracy"] == pytest.approx(2 / 3)
    # flip pairs: QID00001, QID00001-1 (flip-1 wrong), QID00002, QID00002-1
    assert scores["flip_accuracy"] == pytest.approx(3 / 4)
    # all variants of a base id: QID00001 wrong, QID00002 right
    assert scores["flip_circular_accuracy"] == 0.5
    assert scores["height_accuracy"] == 0.75 and scores["location_accuracy"] == 1.0


def test_sat_exact_match_ignores_case_and_punctuation():
    items = [
        {"question": "Is the camera moving left or right?", "answers": ["left", "right"], "correct_answer_idx": 1,
         "prediction": "(b)"},
        {"question": "Which is closer?", "answers": ["box", "ball"], "correct_answer_idx": 0,
         "prediction": "A. box"},
        {"question": "Which is closer?", "answers": ["box", "ball"], "correct_answer_idx": 0,
         "prediction": "Answer: A"},
    ]
    scores, per_item = score_sat(items)
    assert [row["score"] for row in per_item] == [1.0, 1.0, 0.0]
    assert scores["accuracy"] == pytest.approx(2 / 3)
