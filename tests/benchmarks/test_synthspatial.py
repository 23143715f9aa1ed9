"""SynthSpatial: answers follow from the scene geometry; the same seed gives the same dataset."""

import math

import numpy as np
import pytest
from synthetic_scenes import OBJECTS, painted_record

from ma_vlm.benchmarks.spatial.scoring import score_items
from ma_vlm.benchmarks.spatial.synthspatial import (
    SynthSpatialConfig,
    build_synthspatial,
    questions_for_record,
)

CENTRES = {f"{c} {k}": np.array(p) for c, k, p, _ in OBJECTS}
SIZES = {f"{c} {k}": np.array(s) for c, k, _, s in OBJECTS}


def top_view_direction(standing, facing, target):
    """Independent check in the floor plane (x east, z north): left/right by the 2D cross product."""
    f = CENTRES[facing][[0, 2]] - CENTRES[standing][[0, 2]]
    t = CENTRES[target][[0, 2]] - CENTRES[standing][[0, 2]]
    side = "left" if f[0] * t[1] - f[1] * t[0] > 0 else "right"
    ahead = float(np.dot(f, t)) > 0
    angle = math.degrees(math.acos(np.dot(f, t) / np.linalg.norm(f) / np.linalg.norm(t)))
    return side, ahead, angle


def chosen(item):
    letter = item["ground_truth"]
    return next(o[3:] for o in item["options"] if o.startswith(letter + ". "))


def test_every_answer_matches_the_scene_geometry():
    config = SynthSpatialConfig(questions_per_type=6, min_pixels=20)
    items = questions_for_record(painted_record(), np.random.default_rng(0), config)
    kinds = {item["question_type"] for item in items}
    assert kinds == {"object_abs_distance", "object_size_estimation", "object_camera_distance", "object_counting",
                     "object_depth_order", "object_rel_distance", "object_rel_direction_easy",
                     "object_rel_direction_medium", "object_rel_direction_hard"}
    for item in items:
        qtype, names = item["question_type"], item["objects"]
        if qtype == "object_abs_distance":
            assert float(item["ground_truth"]) == pytest.approx(np.linalg.norm(CENTRES[names[0]] - CENTRES[names[1]]), abs=0.005)
        elif qtype == "object_size_estimation":
            assert int(item["ground_truth"]) == round(100 * SIZES[names[0]].max())
        elif qtype == "object_camera_distance":
            assert float(item["ground_truth"]) == pytest.approx(np.linalg.norm(CENTRES[names[0]]), abs=0.005)
        elif qtype == "object_counting":
            assert item["ground_truth"] == {"box": "2", "chair": "1", "lamp": "1"}[names[0]]
        elif qtype == "object_depth_order":
            assert chosen(item) == min(names, key=lambda n: np.linalg.norm(CENTRES[n]))
        elif qtype == "object_rel_distance":
            reference, *candidates = names
            assert chosen(item) == min(candidates, key=lambda n: np.linalg.norm(CENTRES[n] - CENTRES[reference]))
        else:
            side, ahead, angle = top_view_direction(*names)
            answer = chosen(item)
            if qtype == "object_rel_direction_easy":
                assert answer == side
            elif qtype == "object_rel_direction_medium":
                assert answer == ("back" if angle > 135 else side)
            else:
                assert answer == ("front-" if ahead else "back-") + side


def test_known_questions_have_the_expected_answers():
    items = questions_for_record(painted_record(), np.random.default_rng(0), SynthSpatialConfig(questions_per_type=50))
    by_question = {item["question"]: item for item in items}
    assert by_question["How many boxes are in the image?"]["ground_truth"] == "2"
    red_blue = "What is the distance between the centres of the red box and the blue chair (in meters)?"
    assert by_question[red_blue]["ground_truth"] == "2.00"
    lamp = by_question["If I am standing by the red box and facing the blue chair, is the green lamp to my left or the right?"]
    assert chosen(lamp) == "left"


def test_ambiguous_objects_are_not_asked_about():
    twins = OBJECTS + [("red", "box", (3.5, 0.0, 6.0), (0.4, 0.4, 0.4))]  # a second "red box"
    items = questions_for_record(painted_record(objects=twins), np.random.default_rng(0), SynthSpatialConfig(50))
    assert not any("red box" in item["objects"] for item in items)
    assert {i["ground_truth"] for i in items if i["question"] == "How many boxes are in the image?"} == {"3"}


def test_same_seed_same_dataset_and_perfect_answers_score_one(tmp_path):
    records = [painted_record(f"scene{i}") for i in range(12)]
    first = build_synthspatial(records, str(tmp_path / "a"), seed=3)
    again = build_synthspatial(records, str(tmp_path / "b"), seed=3)
    other = build_synthspatial(records, str(tmp_path / "c"), seed=4)
    assert (tmp_path / "a" / "README.md").read_text() == (tmp_path / "b" / "README.md").read_text()
    for split in first:
        assert first[split].to_list() == again[split].to_list()
    assert set(first) <= {"train", "validation", "test"} and "train" in first
    assert {s: first[s]["ground_truth"] for s in first} != {s: other[s]["ground_truth"] for s in other}
    scenes = {s: set(first[s]["scene_id"]) for s in first}
    assert sum(len(v) for v in scenes.values()) == 12  # each scene sits in exactly one split

    from ma_vlm.benchmarks.spatial.io import load_local_split

    loaded = load_local_split(str(tmp_path / "a"), "train")
    assert loaded.features["image"].__class__.__name__ == "Image" and len(loaded) == len(first["train"])
    perfect = [{**row, "prediction": row["ground_truth"]} for row in loaded.remove_columns("image")]
    assert score_items("synthspatial", perfect)["scores"]["overall"] == 1.0


def test_cli_builds_synthspatial_from_an_rgbd_dataset_folder(tmp_path, capsys):
    import datasets

    from ma_vlm.benchmarks.spatial.io import load_local_split
    from ma_vlm.cli import main
    from ma_vlm.data.schema import encode_record, rgbd_features

    rows = [encode_record(painted_record(f"scene{i}")) for i in range(4)]
    (tmp_path / "rgbd" / "data").mkdir(parents=True)
    datasets.Dataset.from_list(rows, features=rgbd_features()).to_parquet(
        str(tmp_path / "rgbd" / "data" / "train-00000-of-00001.parquet"))
    assert main(["eval", "synthspatial", "--rgbd", str(tmp_path / "rgbd"), "--output", str(tmp_path / "ss")]) == 0
    card = (tmp_path / "ss" / "README.md").read_text()
    assert card.startswith("---\nlicense: apache-2.0") and "object_rel_direction_hard" in card
    built = {split: load_local_split(str(tmp_path / "ss"), split) for split in ("train", "validation", "test")
             if (tmp_path / "ss" / "data" / f"{split}-00000-of-00001.parquet").exists()}
    direct = questions_for_record(painted_record("scene0"), np.random.default_rng([0, 0]), SynthSpatialConfig())
    first = next(row for split in built.values() for row in split if row["id"].startswith("scene0-"))
    assert first["question"] == direct[0]["question"] and first["ground_truth"] == direct[0]["ground_truth"]
    assert "questions" in capsys.readouterr().out
