"""Each study of docs/results/ runs end to end on tiny inputs (one training step, a few questions),
so the scripts behind the write-ups keep working as the library changes. The numbers mean nothing."""

import json
import runpy
import sys
from pathlib import Path

import pytest

from ma_vlm.cli import main

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def run_experiment(name: str, *argv: str, monkeypatch) -> None:
    monkeypatch.setattr(sys, "argv", [name, *argv])
    try:
        runpy.run_path(str(EXPERIMENTS / name), run_name="__main__")
    except SystemExit as exit_:
        assert exit_.code in (0, None), exit_.code


@pytest.fixture(scope="module")
def synthspatial(tmp_path_factory, two_scene_dataset):
    """A SynthSpatial build of the two rendered scenes, and its train split in LLaVA format."""
    from ma_vlm.benchmarks.spatial.synthspatial import SynthSpatialConfig, build_synthspatial, records_from_dataset

    folder = tmp_path_factory.mktemp("study")
    build_synthspatial(records_from_dataset(str(two_scene_dataset), "train"), str(folder / "ss"), seed=0,
                       config=SynthSpatialConfig(questions_per_type=1), fractions=(0.5, 0.0, 0.5))  # one scene each
    assert main(["data", "llava", "--synthspatial", str(folder / "ss"), "--split", "train",
                 "--output", str(folder / "llava" / "train.jsonl")]) == 0
    return folder / "ss", folder / "llava" / "train.jsonl"


def test_mllm_claim_c_trains_and_scores_a_variant(synthspatial, tiny_llm_folder, tmp_path, monkeypatch):
    ss, llava = synthspatial
    run_experiment("mllm_claim_c.py", "--recipe", str(RECIPES / "mllm_lora_tiny.yaml"), "--llava", str(llava),
                   "--synthspatial", str(ss), "--variants", "random", "--seeds", "0", "--steps", "1", "--limit", "2",
                   "--set", f"model.llm={tiny_llm_folder}", "--set", "model.tower_preset=tiny",
                   "--output", str(tmp_path / "claim"), monkeypatch=monkeypatch)
    assert "| overall |" in (tmp_path / "claim" / "claim_c.md").read_text()
    assert (tmp_path / "claim" / "claim_c.csv").read_text().startswith("variant,seed,")


def test_plugin_claim_c_trains_both_arms(synthspatial, tiny_llm_folder, tmp_path, monkeypatch):
    ss, _ = synthspatial
    run_experiment("plugin_claim_c.py", "--synthspatial", str(ss), "--llm", tiny_llm_folder, "--steps", "1",
                   "--batch-size", "2", "--eval-limit", "2", "--seeds", "0", "--output", str(tmp_path / "plugin"),
                   monkeypatch=monkeypatch)
    results = json.loads((tmp_path / "plugin" / "results.json").read_text())
    assert [run["arm"] for run in results["runs"]] == ["baseline", "plugin"]
    assert all("overall" in run["scores"] for run in results["runs"])


def test_student_scale_bound_prints_its_table(two_scene_dataset, tmp_path, monkeypatch, capsys):
    import torch

    from ma_vlm.models.metric_anything import (
        MetricAnythingForDepthEstimation,
        MetricAnythingImageProcessor,
        preset_config,
    )
    from ma_vlm.models.metric_anything.presets import PRESETS

    backbone = {**PRESETS["tiny"]["backbone_config"], "image_size": 64}
    torch.manual_seed(0)
    model = MetricAnythingForDepthEstimation(preset_config("tiny", image_size=256, backbone_config=backbone,
                                                           tile_overlaps=(0.0, 0.0), use_prompt=False))
    model.save_pretrained(tmp_path / "student")
    MetricAnythingImageProcessor(size=256).save_pretrained(tmp_path / "student")
    run_experiment("student_scale_bound.py", "--model", str(tmp_path / "student"), "--train", str(two_scene_dataset),
                   "--heldout", str(two_scene_dataset), monkeypatch=monkeypatch)
    table = capsys.readouterr().out
    for row in ("| model |", "| model, true median given |", "| model, its layout's typical scale |", "| median oracle |"):
        assert row in table
