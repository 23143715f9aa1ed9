"""The bf16 switch and the run scope: what `auto` precision means on this machine, forced either
way by MA_VLM_BF16, and a run that leaves the process as it found it."""

import os
import random

import numpy as np
import pytest
import torch

from ma_vlm.errors import MaVlmInputError
from ma_vlm.runtime import bf16_is_native, cpu_bf16_support, isolated_run, resolve_mixed_precision


@pytest.mark.parametrize("switch, expected", [("1", True), ("0", False)])
def test_the_switch_forces_bf16_either_way(monkeypatch, switch, expected):
    monkeypatch.setenv("MA_VLM_BF16", switch)
    assert bf16_is_native() is expected
    assert resolve_mixed_precision("auto") == ("bf16" if expected else "no")
    assert resolve_mixed_precision("no") == "no" and resolve_mixed_precision("bf16") == "bf16"


def test_unset_means_detect_from_the_cpu_flags(monkeypatch):
    monkeypatch.delenv("MA_VLM_BF16", raising=False)
    if torch.cuda.is_available():
        pytest.skip("a GPU decides by itself")
    assert bf16_is_native() is (cpu_bf16_support() in ("AMX", "AVX512-BF16"))


def test_a_switch_value_it_does_not_know_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("MA_VLM_BF16", "yes")
    with pytest.raises(MaVlmInputError, match="MA_VLM_BF16='yes'.*1.*0.*unset"):
        bf16_is_native()


def test_deepspeed_on_cpu_processes_trains_in_fp32_whatever_the_switch(monkeypatch):
    if torch.cuda.is_available():
        pytest.skip("CPU processes only")
    monkeypatch.setenv("MA_VLM_BF16", "1")
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")  # what `accelerate launch` sets for DeepSpeed
    assert resolve_mixed_precision("auto") == "no"


def test_a_run_leaves_random_state_threads_dtype_environment_and_accelerate_as_it_found_them():
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    Accelerator(mixed_precision="no", cpu=True)  # a state made before the run, in another precision
    threads = torch.get_num_threads()
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    with isolated_run():
        torch.manual_seed(123), np.random.seed(123), random.seed(123)
        torch.set_num_threads(threads + 1)  # a count the run must not leave behind
        torch.set_default_dtype(torch.float64)
        os.environ["ACCELERATE_MIXED_PRECISION"] = "bf16"
        Accelerator(mixed_precision="bf16", cpu=True)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected
    assert torch.get_num_threads() == threads and torch.get_default_dtype() == torch.float32
    assert "ACCELERATE_MIXED_PRECISION" not in os.environ
    assert AcceleratorState._shared_state["_mixed_precision"] == "no"  # the state made before the run is back
    AcceleratorState._reset_state(reset_partial_state=True)


def test_inference_heap_tuning_is_off_inside_a_run(monkeypatch):
    from ma_vlm.models import cpu_heap

    calls = []
    monkeypatch.setattr(cpu_heap, "_set", lambda libc, mmap, trim: calls.append((mmap, trim)))
    with isolated_run(), cpu_heap.keep_freed_memory():
        pass
    assert calls == []
