"""An inference forward keeps freed memory in the process heap while it runs, and gives it back
to the system when it ends (ma_vlm/models/cpu_heap.py)."""

import resource

import pytest
import torch

from ma_vlm.models import cpu_heap
from ma_vlm.models.cpu_heap import keep_freed_memory
from ma_vlm.models.metric_anything import MetricAnythingForDepthEstimation, preset_config

pytestmark = pytest.mark.skipif(
    cpu_heap._glibc() is None, reason="glibc heap tuning off here (not glibc, or MALLOC_*/MA_VLM_KEEP_HEAP set)"
)

MIB = 1 << 20


def _resident_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / MIB


def _resident_after_freeing_256_mib() -> float:
    big = torch.ones(64 * MIB)  # 256 MiB of float32
    del big
    return _resident_mib()


def test_freed_memory_stays_in_the_heap_inside_and_goes_back_after():
    baseline = _resident_mib()
    with keep_freed_memory():
        with keep_freed_memory():  # nested scopes share one
            assert _resident_after_freeing_256_mib() > baseline + 200  # kept for the next tensors
        inside = _resident_mib()
        assert inside > baseline + 200  # the outer scope still holds it
    assert _resident_mib() < inside - 200  # on the way out the heap went back to the system


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
