"""An inference forward reuses freed memory instead of faulting in fresh pages, and gives the
memory back when it ends (ma_vlm/encoders/cpu_heap.py)."""

import resource

import pytest
import torch

from ma_vlm.encoders import MetricAnythingForDepthEstimation, cpu_heap, preset_config
from ma_vlm.encoders.cpu_heap import keep_freed_memory

pytestmark = pytest.mark.skipif(
    cpu_heap._glibc() is None, reason="glibc heap tuning off here (not glibc, or MALLOC_*/MA_VLM_KEEP_HEAP set)"
)

MIB = 1 << 20


def _page_faults_of_a_fresh_64_mib_tensor() -> int:
    first = torch.ones(16 * MIB)  # 64 MiB of float32: above glibc's mmap threshold
    del first
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    second = torch.ones(16 * MIB)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    del second
    return faults


def _resident_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / MIB


def test_freed_tensors_are_reused_inside_and_memory_returns_after():
    outside = _page_faults_of_a_fresh_64_mib_tensor()
    resident_before = _resident_mib()
    with keep_freed_memory():
        with keep_freed_memory():  # nested scopes share one
            inside = _page_faults_of_a_fresh_64_mib_tensor()
        still_inside = _page_faults_of_a_fresh_64_mib_tensor()  # the outer scope holds
        big = torch.ones(64 * MIB)  # 256 MiB, freed inside the scope: kept for reuse
        del big
        assert _resident_mib() > resident_before + 200
    resident_after = _resident_mib()
    after = _page_faults_of_a_fresh_64_mib_tensor()
    # outside a scope every page is faulted in afresh: 16,384 of 4 KiB (32 where huge pages are on)
    assert outside >= 32
    assert inside * 10 < outside and still_inside * 10 < outside  # the freed block was reused
    assert after * 2 > outside  # glibc's defaults are back
    assert resident_after < resident_before + 64  # on the way out the heap went back to the system


def test_a_cpu_inference_forward_runs_inside_the_scope_and_training_does_not(monkeypatch):
    depths = []
    real = cpu_heap.keep_freed_memory

    def spy():
        depths.append(torch.is_grad_enabled())
        return real()

    monkeypatch.setattr(cpu_heap, "keep_freed_memory", spy)
    model = MetricAnythingForDepthEstimation(preset_config("tiny")).eval()
    pixels = torch.rand(1, 3, model.config.image_size, model.config.image_size)
    with torch.no_grad():
        model(pixels, focal_length_px=100.0)
    assert depths == [False, False]  # the depth model and its tower, both without autograd
    model(pixels, focal_length_px=100.0)
    assert depths == [False, False]  # a training forward keeps glibc's defaults
