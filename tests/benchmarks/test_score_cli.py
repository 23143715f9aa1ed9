"""``ma-vlm eval score`` end to end on prediction files written by the test."""

import json

import pytest

from ma_vlm.cli import main


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


VSI_ROWS = [
    {"id": 0, "question_type": "object_counting", "ground_truth": "4", "prediction": "four"},
    {"id": 1, "question_type": "object_abs_distance", "ground_truth": "2.2", "prediction": "1.5 meters"},
    {"id": 2, "question_type": "object_rel_distance", "ground_truth": "C", "prediction": "(C)"},
    {"id": 3, "question_type": "object_rel_direction_easy", "ground_truth": "A", "prediction": "a"},
    {"id": 4, "question_type": "object_rel_direction_medium", "ground_truth": "B", "prediction": "B. right"},
    {"id": 5, "question_type": "object_rel_direction_hard", "ground_truth": "D", "prediction": ""},
]


def test_score_writes_lmms_eval_subscores_and_per_item_scores(tmp_path, capsys):
    predictions = write_jsonl(tmp_path / "vsi.jsonl", VSI_ROWS)
    output = tmp_path / "scores.json"
    assert main(["eval", "score", "--benchmark", "vsibench", "--predictions", str(predictions),
                 "--output", str(output)]) == 0
    report = json.loads(output.read_text())
    assert report["scores"] == {
        "object_abs_distance_MRA:.5:.95:.05": pytest.approx(0.4),
        "object_counting_MRA:.5:.95:.05": 1.0,
        "object_rel_distance_accuracy": 0.0,
        "object_rel_direction_accuracy": pytest.approx(2 / 3),
        "overall": pytest.approx((0.4 + 1.0 + 0.0 + 2 / 3) / 4),
    }
    assert [row["score"] for row in report["per_item"]] == [1.0, pytest.approx(0.4), 0.0, 1.0, 1.0, 0.0]
    assert "overall" in capsys.readouterr().out


def test_score_names_the_bad_line_and_the_valid_benchmarks(tmp_path, capsys):
    predictions = tmp_path / "bad.jsonl"
    predictions.write_text(json.dumps(VSI_ROWS[0]) + "\n{not json\n")
    args = ["eval", "score", "--predictions", str(predictions), "--output", str(tmp_path / "o.json")]
    assert main(args + ["--benchmark", "vsibench"]) == 2
    assert "line 2 is not JSON" in capsys.readouterr().err
    assert main(args + ["--benchmark", "mmbench"]) == 2
    assert "choose one of: vsibench, synthspatial, cv_bench" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()


def test_score_spatialbench_file(tmp_path):
    rows = [{"task": "existence", "answer": a, "prediction": p} for a, p in [("Yes", "Yes"), ("No", "No.")]]
    rows += [{"task": "counting", "answer": "3", "prediction": "2"}]
    output = tmp_path / "sb.json"
    main(["eval", "score", "--benchmark", "spatialbench", "--predictions",
          str(write_jsonl(tmp_path / "sb.jsonl", rows)), "--output", str(output)])
    scores = json.loads(output.read_text())["scores"]
    assert scores == {"existence": 1.0, "counting": pytest.approx(2 / 3), "counting_unparseable": 0.0}
