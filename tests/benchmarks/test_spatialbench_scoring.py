"""SpatialBench's per-file rules (positional, existence pairs, counting, reach/size points)."""

import pytest

from ma_vlm.benchmarks.spatial.spatialbench import score_spatialbench
from ma_vlm.errors import MaVlmInputError


def items(task, pairs):
    return [{"task": task, "answer": answer, "prediction": prediction} for answer, prediction in pairs]


def test_positional_is_a_case_sensitive_substring_match():
    scores, _ = score_spatialbench(items("positional", [("left", "It is on the left."), ("right", "Right"),
                                                          ("above", "above"), ("below", "")]))
    assert scores == {"positional": 0.5}


def test_existence_counts_a_pair_only_when_both_are_right():
    scores, _ = score_spatialbench(items("existence", [("Yes", "Yes"), ("No", "No"), ("Yes", "Yes"), ("No", "Yes")]))
    assert scores == {"existence": 0.5}


def test_reach_and_size_give_three_points_per_pair():
    # pair 1 both right: 3 points; pair 2 one right: 1 point -> 4 / 6
    scores, _ = score_spatialbench(items("reach", [("Yes", "Yes"), ("No", "No"), ("Yes", "Yes"), ("No", "Yes")]))
    assert scores["reach"] == pytest.approx(4 / 6)
    scores, _ = score_spatialbench(items("size", [("Yes", "no"), ("No", "no")]))  # case-sensitive: 0 points
    assert scores["size"] == 0.0


def test_counting_is_one_minus_mean_relative_error_and_can_go_negative():
    scores, per_item = score_spatialbench(items("counting", [("4", "4"), ("4", " 2 "), ("2", "8")]))
    assert [row["score"] for row in per_item] == [1.0, 0.5, -2.0]
    # errors 0, 0.5, 3.0 -> 1 - 3.5 / 3
    assert scores["counting"] == pytest.approx(1 - 3.5 / 3)
    assert scores["counting_unparseable"] == 0
    scores, _ = score_spatialbench(items("counting", [("4", "four"), ("4", "4")]))
    assert scores == {"counting": 0.5, "counting_unparseable": 1.0}  # unreadable = 100% error


def test_pairs_and_tasks_are_checked():
    with pytest.raises(MaVlmInputError, match="consecutive"):
        score_spatialbench(items("existence", [("Yes", "Yes")]))
    with pytest.raises(MaVlmInputError, match="'depth' is not one of"):
        score_spatialbench(items("depth", [("1", "1")]))
