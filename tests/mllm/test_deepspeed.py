"""`ma-vlm train mllm` under `accelerate launch` with DeepSpeed ZeRO-2, two CPU processes (gloo)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(900)
def test_zero2_with_two_cpu_processes(tmp_path, tiny_llm_folder, llava_jsonl, write_recipe):
    pytest.importorskip("deepspeed", reason="pip install 'ma-vlm[deepspeed]'")
    recipe = write_recipe(tmp_path / "recipe.yaml", tiny_llm_folder, llava_jsonl, output_steps=2,
                          per_device_train_batch_size=1, use_cpu=False)  # fmt: skip
    output = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
               "recipes/accelerate/deepspeed_zero2_mllm.yaml", "--num_processes", "2",
               "-m", "ma_vlm.cli", "train", "mllm", "--recipe", recipe, "--output", str(output)]  # fmt: skip
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    shards = sorted(p.name for p in (output / "checkpoint-2" / "global_step2").glob("*optim_states.pt"))
    # ZeRO partitions the optimizer state: one shard per process
    assert shards == ["zero_pp_rank_0_mp_rank_00_optim_states.pt", "zero_pp_rank_1_mp_rank_00_optim_states.pt"]
    assert (output / "model" / "model.safetensors").exists()
