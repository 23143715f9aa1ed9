"""``ma-vlm eval spatial`` end to end: a tiny random LLaVA (CLIP vision tower + Llama text model
+ the real SmolLM2 tokenizer) answers SynthSpatial; an interrupted run resumes without
answering anything twice and ends with the scores of an uninterrupted run."""

import json

from ma_vlm.cli import main


def run_spatial(model, data, output, *extra):
    return main(["eval", "spatial", "--model", model, "--benchmark", "synthspatial", "--data", data,
                 "--output", str(output), "--batch-size", "4", "--max-new-tokens", "4", *extra])


def test_interrupted_run_resumes_without_duplicates_and_same_scores(tiny_llava, synthspatial_copy, tmp_path, capsys):
    import datasets

    num_items = len(datasets.load_dataset(synthspatial_copy, split="test"))
    interrupted = tmp_path / "resumed.json"
    assert run_spatial(tiny_llava, synthspatial_copy, interrupted, "--limit", "5") == 0
    partial = tmp_path / "resumed.predictions.jsonl"
    assert len(partial.read_text().splitlines()) == 5
    with open(partial, "a") as handle:  # a kill mid-write leaves half a line behind
        handle.write('{"_key": "scene0-0000')
    assert run_spatial(tiny_llava, synthspatial_copy, interrupted) == 0
    keys = [json.loads(line)["_key"] for line in partial.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == num_items

    straight = tmp_path / "straight.json"
    assert run_spatial(tiny_llava, synthspatial_copy, straight) == 0
    resumed_report, straight_report = json.loads(interrupted.read_text()), json.loads(straight.read_text())
    assert resumed_report["num_items"] == straight_report["num_items"] == num_items
    assert resumed_report["scores"] == straight_report["scores"]
    assert set(resumed_report["scores"]) >= {"overall", "object_counting_MRA:.5:.95:.05", "object_rel_direction_accuracy"}
    assert "overall" in capsys.readouterr().out
