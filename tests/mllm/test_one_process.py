"""Three trainings in one process, as in a notebook: an MLLM with bf16 forced on, then depth
pretraining and point-map training with bf16 off. Each run after the MLLM gives exactly what it
gives before it, and no run leaves accelerate, random or thread state behind."""

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file


def _depth_run(recipe, output):
    from ma_vlm.pretrain.trainer import run_training

    summary = run_training(recipe, output, progress=False)
    return summary, load_file(str(Path(output) / "model" / "model.safetensors"))


def _pointmap_run(data, output):
    from ma_vlm.pointmap.train import train_pointmap

    train_pointmap(str(data), str(output), preset="tiny", max_steps=2, gradient_accumulation_steps=1, num_tokens=32)
    return load_file(str(Path(output) / "model.safetensors"))


def _process_state():
    from accelerate.state import AcceleratorState, PartialState

    generator = torch.get_rng_state().clone()
    return (bool(AcceleratorState._shared_state), bool(PartialState._shared_state), torch.get_num_threads(),
            torch.get_default_dtype(), generator, np.random.get_state()[1].copy())


def _same_state(a, b):
    return a[:4] == b[:4] and torch.equal(a[4], b[4]) and np.array_equal(a[5], b[5])


@pytest.mark.timeout(900)
def test_mllm_bf16_then_depth_then_pointmap_each_as_if_alone(tmp_path, monkeypatch, two_scene_dataset,
                                                            tiny_llm_folder, llava_jsonl, write_recipe, capsys):
    from ma_vlm.mllm.train import load_recipe, train_mllm
    from ma_vlm.pretrain.recipe import load_recipe as load_depth_recipe

    depth_recipe = load_depth_recipe(Path(__file__).resolve().parents[2] / "recipes" / "pretrain_teacher_tiny.yaml")
    depth_recipe.model.overrides.update(tap_feature_dims=[8, 8, 8, 8], level_feature_dims=[8, 8, 16],
                                        decoder_hidden_size=8, head_hidden_size=4)
    depth_recipe.data.path, depth_recipe.data.sources = str(two_scene_dataset), {"render": 1.0}
    depth_recipe.train.max_steps, depth_recipe.train.batch_size = 2, 1
    depth_recipe.train.mixed_precision = "auto"

    monkeypatch.setenv("MA_VLM_BF16", "0")
    start = _process_state()
    alone_summary, alone_depth = _depth_run(depth_recipe, tmp_path / "depth_alone")
    alone_points = _pointmap_run(two_scene_dataset, tmp_path / "points_alone")
    assert _same_state(_process_state(), start)

    monkeypatch.setenv("MA_VLM_BF16", "1")
    capsys.readouterr()
    train_mllm(load_recipe(write_recipe(tmp_path / "mllm.yaml", tiny_llm_folder, llava_jsonl, output_steps=1)),
               str(tmp_path / "mllm"))
    assert "bf16: on (MA_VLM_BF16=1" in capsys.readouterr().out
    assert _same_state(_process_state(), start)

    monkeypatch.setenv("MA_VLM_BF16", "0")
    after_summary, after_depth = _depth_run(depth_recipe, tmp_path / "depth_after")
    after_points = _pointmap_run(two_scene_dataset, tmp_path / "points_after")
    assert alone_summary["mixed_precision"] == after_summary["mixed_precision"] == "no"
    assert alone_summary["last_loss"] == after_summary["last_loss"]
    for name, value in alone_depth.items():
        assert torch.equal(after_depth[name], value), name
    for name, value in alone_points.items():
        assert torch.equal(after_points[name], value), name
    assert _same_state(_process_state(), start)


@pytest.mark.parametrize("switch", ["0", "1"])
def test_depth_pretraining_with_auto_precision_runs_under_both_settings(tmp_path, monkeypatch, two_scene_dataset,
                                                                        switch):
    from ma_vlm.pretrain.recipe import load_recipe

    recipe = load_recipe(Path(__file__).resolve().parents[2] / "recipes" / "pretrain_teacher_tiny.yaml")
    recipe.model.overrides.update(tap_feature_dims=[8, 8, 8, 8], level_feature_dims=[8, 8, 16],
                                  decoder_hidden_size=8, head_hidden_size=4)
    recipe.data.path, recipe.data.sources = str(two_scene_dataset), {"render": 1.0}
    recipe.train.max_steps, recipe.train.batch_size, recipe.train.mixed_precision = 2, 1, "auto"
    monkeypatch.setenv("MA_VLM_BF16", switch)
    summary, weights = _depth_run(recipe, tmp_path / "run")
    assert summary["mixed_precision"] == ("bf16" if switch == "1" else "no")
    assert np.isfinite(summary["last_loss"]) and all(torch.isfinite(w).all() for w in weights.values())


@pytest.mark.parametrize("switch", ["0", "1"])
def test_mllm_training_with_bf16_auto_runs_under_both_settings(tmp_path, monkeypatch, tiny_llm_folder, llava_jsonl,
                                                              write_recipe, capsys, switch):
    from ma_vlm.mllm.train import load_recipe, train_mllm

    monkeypatch.setenv("MA_VLM_BF16", switch)
    model = train_mllm(load_recipe(write_recipe(tmp_path / "r.yaml", tiny_llm_folder, llava_jsonl, output_steps=1)),
                       str(tmp_path / "run"))
    assert f"bf16: {'on' if switch == '1' else 'off'} (MA_VLM_BF16={switch}" in capsys.readouterr().out
    assert all(torch.isfinite(w).all() for w in load_file(str(Path(model) / "model.safetensors")).values())


def test_bf16_true_under_deepspeed_on_cpu_is_one_line(monkeypatch):
    from ma_vlm.errors import MaVlmInputError
    from ma_vlm.mllm.train import resolve_bf16

    if torch.cuda.is_available():
        pytest.skip("CPU processes only")
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")
    monkeypatch.setenv("MA_VLM_BF16", "1")
    assert resolve_bf16({"bf16": "auto"})["bf16"] is False
    with pytest.raises(MaVlmInputError, match="DeepSpeed on CPU processes trains in fp32.*bf16: auto or false"):
        resolve_bf16({"bf16": True})
