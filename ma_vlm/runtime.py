"""The process a run happens in: which precision the hardware runs natively, and a scope that
leaves no process-wide state behind.

bf16. Torch's bf16 matmuls are native on CUDA GPUs with bf16 and on CPUs with AMX or
AVX512-BF16; elsewhere they fall back to a path slower than fp32. `bf16_is_native()` detects
it, and the environment variable `MA_VLM_BF16` forces the answer either way (`1`: treat bf16 as
native, `0`: never choose bf16; unset: detect). Every `auto` precision setting of the project
(`train.bf16: auto` of an MLLM recipe, `train.mixed_precision: auto` of a pretraining recipe)
goes through it, so one switch tests both paths on any machine.

Isolation. Training libraries keep process-wide state: accelerate's `AcceleratorState` and
`PartialState` singletons (a second `Accelerator` with another `mixed_precision` refuses to
start), torch's global random generators and thread count, the default dtype, environment
variables that Transformers and accelerate set for their own launches, log verbosity.
`isolated_run()` snapshots them on the way in and puts them back on the way out, so a run in a
notebook or a test process behaves the same whatever ran before it, and leaves nothing for
the runs after it. It also pauses the inference-only glibc heap tuning of
`ma_vlm.models.cpu_heap` (a training run's teacher forwards would otherwise change glibc's
process-wide malloc thresholds).
"""

from __future__ import annotations

import contextlib
import copy
import os
import random
import threading
from pathlib import Path

from ma_vlm.errors import MaVlmInputError

BF16_SWITCH = "MA_VLM_BF16"

_training_runs = 0
_training_runs_lock = threading.Lock()


def cpu_bf16_support() -> str:
    """'AMX', 'AVX512-BF16' or 'neither', from the CPU's flags (Linux /proc/cpuinfo)."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return "neither"
    if "amx_bf16" in flags:
        return "AMX"
    if "avx512_bf16" in flags:
        return "AVX512-BF16"
    return "neither"


def bf16_switch() -> bool | None:
    """`MA_VLM_BF16` as True/False, or None when unset (detect)."""
    value = os.environ.get(BF16_SWITCH, "").strip()
    if value == "":
        return None
    if value in ("0", "1"):
        return value == "1"
    raise MaVlmInputError(f"{BF16_SWITCH}={value!r} is not understood: set it to 1 (use bf16), 0 (never bf16), "
                          "or unset it (detect from the hardware)")


def bf16_is_native() -> bool:
    """Whether `auto` precision settings choose bf16: `MA_VLM_BF16` if set, else a CUDA GPU with
    bf16, or (no GPU) a CPU with AMX or AVX512-BF16."""
    forced = bf16_switch()
    if forced is not None:
        return forced
    import torch

    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return cpu_bf16_support() != "neither"


def bf16_reason() -> str:
    """Why `bf16_is_native()` answered as it did, for the one line a run prints."""
    forced = bf16_switch()
    if forced is not None:
        return f"{BF16_SWITCH}={int(forced)}"
    import torch

    if torch.cuda.is_available():
        return f"GPU {torch.cuda.get_device_name()}"
    return f"CPU bf16 support: {cpu_bf16_support()}"


def deepspeed_on_cpu(configured: bool = False) -> bool:
    """A DeepSpeed run (`configured`, e.g. a recipe's `deepspeed` key, or `accelerate launch`
    with a DeepSpeed config) on a machine without a CUDA GPU: it trains in fp32 (the recipes'
    `auto` precision says so)."""
    import torch

    launched = os.environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() == "true"
    return (configured or launched) and not torch.cuda.is_available()


def resolve_mixed_precision(value: str) -> str:
    """accelerate's `mixed_precision` for a recipe value: "no", "bf16", "fp16" as they are;
    "auto" becomes "bf16" where `bf16_is_native()` (never for DeepSpeed on CPU processes)."""
    if value != "auto":
        return value
    if deepspeed_on_cpu():
        return "no"
    return "bf16" if bf16_is_native() else "no"


def precision_reason() -> str:
    """Why `auto` resolved as it did, in a few words."""
    if deepspeed_on_cpu():
        return "DeepSpeed on CPU processes trains in fp32"
    return bf16_reason()


def in_training_run() -> bool:
    """True while an `isolated_run()` scope is open in this process."""
    return _training_runs > 0


class _ProcessState:
    """What a run may change for the whole process, taken once and put back."""

    def __init__(self):
        import numpy as np
        import torch

        self.python_random = random.getstate()
        self.numpy_random = np.random.get_state()
        self.torch_random = torch.get_rng_state()
        self.cuda_random = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
        self.threads = torch.get_num_threads()
        self.default_dtype = torch.get_default_dtype()
        self.matmul_precision = torch.get_float32_matmul_precision()
        self.deterministic = (torch.are_deterministic_algorithms_enabled(),
                              torch.is_deterministic_algorithms_warn_only_enabled())
        self.cudnn = (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
        self.environ = dict(os.environ)
        self.accelerate = _accelerate_singletons()
        self.shared = {cls: copy.copy(cls._shared_state) for cls in self.accelerate}
        self.verbosity = _transformers_verbosity()

    def restore(self) -> None:
        import numpy as np
        import torch

        for cls in _accelerate_singletons():  # classes first imported during the run start empty
            cls._shared_state.clear()
            cls._shared_state.update(self.shared.get(cls, {}))
        for key in set(os.environ) - set(self.environ):
            del os.environ[key]
        os.environ.update({k: v for k, v in self.environ.items() if os.environ.get(k) != v})
        random.setstate(self.python_random)
        np.random.set_state(self.numpy_random)
        torch.set_rng_state(self.torch_random)
        if self.cuda_random is not None:
            torch.cuda.set_rng_state_all(self.cuda_random)
        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        torch.set_default_dtype(self.default_dtype)
        torch.set_float32_matmul_precision(self.matmul_precision)
        torch.use_deterministic_algorithms(self.deterministic[0], warn_only=self.deterministic[1])
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = self.cudnn
        if self.verbosity is not None:
            from transformers.utils import logging

            logging.set_verbosity(self.verbosity)


def _accelerate_singletons() -> list:
    """accelerate's shared-state classes, where accelerate is already imported (a run that
    imports it for the first time leaves them to be emptied on the way out)."""
    import sys

    if "accelerate.state" not in sys.modules:
        return []
    from accelerate.state import AcceleratorState, GradientState, PartialState

    return [PartialState, AcceleratorState, GradientState]


def _transformers_verbosity() -> int | None:
    import sys

    if "transformers" not in sys.modules:
        return None
    from transformers.utils import logging

    return logging.get_verbosity()


@contextlib.contextmanager
def isolated_run():
    """Run a training (or any run) without changing the process for what runs after it.

    On the way in, accelerate's singletons are emptied (so an `Accelerator` made earlier with
    another precision cannot refuse the run's); on the way out they, torch's and NumPy's and Python's global random
    generators, torch's thread count, default dtype and matmul settings, the environment
    variables and Transformers' log verbosity are as they were on the way in."""
    global _training_runs
    state = _ProcessState()
    for cls in _accelerate_singletons():  # the run starts from none, whatever ran before it
        cls._shared_state.clear()
    with _training_runs_lock:
        _training_runs += 1
    try:
        yield
    finally:
        with _training_runs_lock:
            _training_runs -= 1
        state.restore()
