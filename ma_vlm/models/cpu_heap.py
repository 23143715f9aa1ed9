"""Keep freed memory in the process heap while an inference forward runs (Linux, glibc).

Why: glibc serves an allocation above its mmap threshold (which settles at 32 MiB once a
process has freed one such block) with a fresh mapping from the kernel and unmaps it on `free`;
the kernel zero-fills every page on first touch, and with several threads each unmap also
flushes the other cores' TLBs. One forward of the official layout allocates and frees hundreds
of such tensors (decoder maps of 38-75 MB, token tensors of 125 MB at width 384), so every
implementation of this network spends about a fifth of its CPU forward there. Measured on 2
cores, tiny official layout, one 1536 px image (perf/encoder_speed.py, two runs): the official
code 1519 ms -> 1222 ms and ma-vlm (without this module) 1357 -> 1128 ms with glibc told to keep
freed memory for the whole process (MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_).

`keep_freed_memory()` does that for the duration of a forward only: it raises both thresholds
(`mallopt`), so freed tensors stay in the heap for the next allocations, and on the way out sets
them to glibc's own steady state (mmap 32 MiB, trim 64 MiB: what its dynamic threshold reaches
after the first forward anyway) and trims the heap (`malloc_trim`), so the memory goes back.
The price is peak memory: the heap fragments (PyTorch's 64-byte-aligned allocations do not
always fit a freed block), so a forward's peak resident memory grows; measured at the tiny
official layout, 1.42 GiB instead of 1.21 GiB (the process before the forward: 0.87 GiB).
And the heap keeps its address space after the trim: a large tensor allocated later outside a
forward may be carved from it instead of being mapped afresh, and then stays resident after
`free` until the next forward's trim (glibc's usual behaviour for heap memory).
Nested and concurrent uses share one scope. It does nothing where the process chose its own
allocator settings: MALLOC_*_ variables, an LD_PRELOAD allocator (jemalloc, tcmalloc), a
non-glibc libc, or MA_VLM_KEEP_HEAP=0 (the switch for a memory-bound machine). Inside a
training run (`ma_vlm.runtime.isolated_run`, e.g. a distillation's teacher forwards) it does
nothing either: glibc has no way to read its thresholds back, so a run could not restore them.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import platform
import threading

import torch

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers (malloc.h)
_DURING = 1 << 30  # 1 GiB: every tensor of a forward stays in the heap
_GLIBC_STEADY_MMAP, _GLIBC_STEADY_TRIM = 32 << 20, 64 << 20  # DEFAULT_MMAP_THRESHOLD_MAX, 2x that

_lock = threading.Lock()
_depth = 0


@functools.cache
def _glibc():
    """glibc through ctypes, or None where this tuning must not (or cannot) apply."""
    if os.environ.get("MA_VLM_KEEP_HEAP", "1") == "0":
        return None
    if any(name.startswith("MALLOC_") for name in os.environ) or "malloc" in os.environ.get("LD_PRELOAD", ""):
        return None
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def _set(libc, mmap_threshold: int, trim_threshold: int) -> None:
    libc.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(mmap_threshold))
    libc.mallopt(_M_TRIM_THRESHOLD, ctypes.c_int(trim_threshold))


@contextlib.contextmanager
def keep_freed_memory():
    """Within this block, freed memory stays in the heap for reuse; given back on exit."""
    global _depth
    from ma_vlm.runtime import in_training_run

    libc = _glibc()
    if libc is None or in_training_run():
        yield
        return
    with _lock:
        _depth += 1
        if _depth == 1:
            _set(libc, _DURING, _DURING)
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _set(libc, _GLIBC_STEADY_MMAP, _GLIBC_STEADY_TRIM)
                libc.malloc_trim(ctypes.c_size_t(0))


def keeps_freed_memory_at_inference(forward):
    """Decorate a model's `forward(self, pixel_values, ...)`: CPU inputs without autograd run
    inside `keep_freed_memory()` (training keeps glibc's defaults: its backward runs outside)."""

    @functools.wraps(forward)
    def wrapped(self, *args, **kwargs):
        pixel_values = kwargs.get("pixel_values", args[0] if args else None)
        # traced (torch.compile / torch.export): no glibc calls inside a graph, they would break it
        if (torch.is_grad_enabled() or torch.compiler.is_compiling() or not isinstance(pixel_values, torch.Tensor)
                or pixel_values.device.type != "cpu"):
            return forward(self, *args, **kwargs)
        with keep_freed_memory():
            return forward(self, *args, **kwargs)

    return wrapped
