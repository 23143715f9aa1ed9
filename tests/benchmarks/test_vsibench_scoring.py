"""VSI-Bench scoring reproduces lmms-eval 0.7.x: hand-checked answers from the published rules.

MRA = share of theta in {0.50, 0.55, ..., 0.95} with |pred - gt| / gt <= 1 - theta; the cases
below sit away from threshold edges so the expected values are plain fractions.
"""

import pytest

from ma_vlm.benchmarks.spatial.answer_parsing import extract_number
from ma_vlm.benchmarks.spatial.vsibench import VSIBENCH, mean_relative_accuracy
from ma_vlm.errors import MaVlmInputError


def published_mra(predicted, target):
    """The formula as the VSI-Bench paper states it, with thresholds 0.50..0.95 step 0.05."""
    thresholds = [0.5 + 0.05 * k for k in range(10)]
    return sum(abs(predicted - target) / target <= 1 - t for t in thresholds) / 10


@pytest.mark.parametrize(
    "response, number",
    [
        ("3", 3.0),
        ("three", 3.0),
        ("Three boxes.", 3.0),
        ("There are twenty-one chairs", 21.0),
        ("three hundred and five", 305.0),
        ("5 or 6", 5.0),
        ("350 cm", 350.0),  # units are not converted
        ("1.75 meters", 1.75),
        ("-2", -2.0),
        ("one apple, room 2", 1.0),  # whichever number comes first wins
        ("room 2, one apple", 2.0),
        ("", None),
        ("I don't know", None),
        (None, None),
    ],
)
def test_extract_number_reads_the_first_number_in_digits_or_words(response, number):
    assert extract_number(response) == number


@pytest.mark.parametrize(
    "response, target, expected",
    [
        ("3", "3", 1.0),
        ("three", "3", 1.0),
        ("There are twenty-one chairs", "20", 1.0),  # 5% off: right at every threshold
        ("5 or 6", "4.4", 0.8),  # 5 read; 13.6% off: right for theta <= 0.85
        ("1.5 meters", "2.2", 0.4),  # 31.8% off: theta 0.50-0.65
        ("350 cm", "3.5", 0.0),  # 350 against 3.5 metres
        ("", "2.0", 0.0),
        ("no idea", "2.0", 0.0),
        ("2.0", "not a number", 0.0),
    ],
)
def test_numerical_answers_score_mean_relative_accuracy(response, target, expected):
    item = {"question_type": "object_abs_distance", "ground_truth": target, "prediction": response}
    assert VSIBENCH.score_item(item)["score"] == expected
    if extract_number(response) is not None and expected:
        assert published_mra(extract_number(response), float(target)) == expected


@pytest.mark.parametrize(
    "response, expected",
    [
        ("B", 1.0),
        ("b", 1.0),  # case-insensitive
        ("B.", 1.0),
        ("B. the chair", 1.0),
        ("  B  ", 1.0),  # lmms-eval strips the generation first
        ("(B)", 0.0),  # the first token is "(B)", not "B"
        ("(C)", 0.0),
        ("The answer is B", 0.0),
        ("B\nbecause", 0.0),  # no space: the whole text is the first token
        ("", 0.0),
        ("C", 0.0),
    ],
)
def test_multiple_choice_answers_match_the_first_token(response, expected):
    item = {"question_type": "object_rel_distance", "ground_truth": "B", "prediction": response}
    assert VSIBENCH.score_item(item)["score"] == expected


def test_mra_has_ten_thresholds_from_half_to_095():
    # 52% off clears no threshold; 48% off clears only theta = 0.50; 4% off clears all ten.
    assert mean_relative_accuracy(1.52, 1.0) == 0.0
    assert mean_relative_accuracy(1.48, 1.0) == 0.1
    assert mean_relative_accuracy(1.04, 1.0) == 1.0
    assert mean_relative_accuracy(None, 1.0) == 0.0
    with pytest.raises(MaVlmInputError, match="ground truth of 0"):
        mean_relative_accuracy(1.0, 0.0)


def test_aggregate_has_lmms_eval_keys_and_averages_eight_subscores():
    items = [
        ("object_counting", "4", "4"),  # 1.0
        ("object_counting", "4", "two"),  # 50% off -> 0.1 (theta 0.50 only)
        ("object_abs_distance", "2.0", "2.0"),
        ("object_size_estimation", "100", "90"),  # 10% off -> 0.9
        ("room_size_estimation", "20", "1"),  # 0.0
        ("object_rel_distance", "A", "A"),
        ("route_planning", "A", "B"),
        ("obj_appearance_order", "C", "c"),
        ("object_rel_direction_easy", "A", "A"),
        ("object_rel_direction_medium", "A", "A"),
        ("object_rel_direction_medium", "A", "B"),
        ("object_rel_direction_hard", "D", "(D)"),
    ]
    rows = [VSIBENCH.score_item({"question_type": t, "ground_truth": g, "prediction": p}) for t, g, p in items]
    scores = VSIBENCH.aggregate(rows)
    assert scores == {
        "obj_appearance_order_accuracy": 1.0,
        "object_abs_distance_MRA:.5:.95:.05": 1.0,
        "object_counting_MRA:.5:.95:.05": pytest.approx(0.55),
        "object_rel_distance_accuracy": 1.0,
        "object_size_estimation_MRA:.5:.95:.05": pytest.approx(0.9),
        "room_size_estimation_MRA:.5:.95:.05": 0.0,
        "route_planning_accuracy": 0.0,
        "object_rel_direction_accuracy": 0.5,  # (1 + 0.5 + 0) / 3
        "overall": pytest.approx((1 + 1 + 0.55 + 1 + 0.9 + 0 + 0 + 0.5) / 8),
    }


def test_unknown_question_type_is_named():
    with pytest.raises(MaVlmInputError, match="unknown question_type 'room_area'"):
        VSIBENCH.score_item({"question_type": "room_area", "ground_truth": "1", "prediction": "1"})


def test_missing_ground_truth_is_named():
    with pytest.raises(MaVlmInputError, match="lacks 'ground_truth'"):
        VSIBENCH.score_item({"question_type": "object_counting", "prediction": "3"})
