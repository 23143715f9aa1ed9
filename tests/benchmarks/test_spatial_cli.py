"""``ma-vlm eval spatial`` end to end: a tiny random LLaVA (CLIP vision tower + Llama text model
+ the real SmolLM2 tokenizer) answers SynthSpatial; an interrupted run resumes without
answering anything twice and ends with the scores of an uninterrupted run."""

import json

from ma_vlm.cli import main


def run_spatial(model, data, output, *extra):
    return main(["eval", "spatial", "--model", model, "--benchmark", "synthspatial", "--data", data,
                 "--output", str(output), "--batch-size", "6", "--max-new-tokens", "3", *extra])


def test_interrupted_run_resumes_without_duplicates_and_same_scores(tiny_llava, synthspatial_copy, tmp_path, capsys):
    from ma_vlm.benchmarks.spatial.io import load_local_split

    num_items = len(load_local_split(synthspatial_copy, "test"))
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


def test_public_benchmark_from_a_local_copy(tiny_llava, tmp_path):
    """CV-Bench's published fields in a local parquet copy: answered, scored, per-source keys."""
    import datasets
    import numpy as np
    from PIL import Image

    rows = [{"idx": i, "type": "2D" if i % 2 else "3D", "task": "Depth", "source": ["Omni3D", "COCO", "ADE20K"][i % 3],
             "image": Image.fromarray(np.full((20, 30, 3), 30 * i, np.uint8)), "choices": ["box", "lamp"],
             "prompt": "Which is closer to the camera?\n(A) box\n(B) lamp", "answer": "(A)"} for i in range(3)]
    (tmp_path / "cvb" / "data").mkdir(parents=True)
    datasets.Dataset.from_list(rows).to_parquet(str(tmp_path / "cvb" / "data" / "test-00000-of-00001.parquet"))
    output = tmp_path / "cvb.json"
    assert main(["eval", "spatial", "--model", tiny_llava, "--benchmark", "cv_bench", "--data", str(tmp_path / "cvb"),
                 "--output", str(output), "--max-new-tokens", "2"]) == 0
    report = json.loads(output.read_text())
    assert report["num_items"] == 3 and len(report["per_item"]) == 3
    assert {"accuracy", "cv_bench_score", "source/ADE20K", "source/COCO", "source/Omni3D"} <= set(report["scores"])
