"""The run folder of `ma-vlm pretrain` / `distill`, beside its checkpoints (`checkpoints.py`).

OUTPUT/recipe.yaml (the recipe as run), log.csv and loss_curve.png (`LossLog`), checkpoints/,
model/ (the final `save_pretrained` folder, published atomically from the last checkpoint) and
summary.json (steps, losses, throughput, peak memory, mixed precision). `RunFolder` keeps these;
the training loop only asks it.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import time
from pathlib import Path

import torch

from ma_vlm.atomic_io import write_json_atomic, write_text_atomic
from ma_vlm.errors import MaVlmInputError
from ma_vlm.pretrain.checkpoints import latest_checkpoint, read_log

# Sections a resumed run may not change: its checkpoint holds that model, trained on that data
# with that objective. `train` may change (more steps, another learning rate) and resumes.
RUN_DEFINING_SECTIONS = ("model", "data", "loss", "distill")


class RunFolder:
    """OUTPUT of one training run: what it records, and whether it may resume or is finished."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def latest_checkpoint(self) -> Path | None:
        return latest_checkpoint(self.path)

    def check_same_run(self, recipe) -> None:
        """Refuse to resume a run folder whose checkpoints come from another recipe (say a recipe
        changed upstream): the checkpoint would not fit the model, or would silently continue
        another experiment. Names the first differing key and the fix."""
        import yaml

        stored_path = self.path / "recipe.yaml"
        if self.latest_checkpoint() is None or not stored_path.is_file():
            return
        stored = yaml.safe_load(stored_path.read_text()) or {}
        current = recipe.to_dict()
        for section in RUN_DEFINING_SECTIONS:
            old, new = stored.get(section) or {}, current.get(section) or {}
            for key in sorted(set(old) | set(new)):
                if key in ("path",):  # the same data may move (another --data spelling)
                    continue
                if old.get(key) != new.get(key):
                    raise MaVlmInputError(
                        f"{self.path} holds a run of another recipe ({section}.{key} was {old.get(key)!r}, now "
                        f"{new.get(key)!r}); give a new --output, or delete {self.path} to start this recipe afresh")

    def finished_summary(self, max_steps: int) -> dict | None:
        """The summary of a run that already finished `max_steps` with its model published, else None."""
        path = self.path / "summary.json"
        if not (path.is_file() and (self.path / "model" / "config.json").is_file()):
            return None
        summary = json.loads(path.read_text())
        return summary if summary.get("finished") and summary.get("max_steps") == max_steps else None

    def write_recipe(self, recipe) -> None:
        import yaml

        self.path.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.path / "recipe.yaml", yaml.safe_dump(recipe.to_dict(), sort_keys=False))

    def finish(self, summary: dict) -> dict:
        """Publish the last checkpoint's model/ as OUTPUT/model (atomically), add the first and
        last loss of log.csv to `summary` and write summary.json."""
        checkpoint = self.latest_checkpoint()
        staging = self.path / ".staging-model"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(checkpoint / "model", staging)
        shutil.rmtree(self.path / "model", ignore_errors=True)
        os.replace(staging, self.path / "model")
        losses = [float(row["loss"]) for row in read_log(self.path / "log.csv")]
        summary.update(first_loss=losses[0], last_loss=losses[-1])
        write_json_atomic(self.path / "summary.json", summary)
        return summary


class StepTimer:
    """Throughput and peak memory of this invocation's optimizer steps (written to summary.json).

    examples_per_second leaves the first step out (kernel selection, DeepSpeed buffers, the data
    workers starting) and checkpoint saving too; peak memory is the accelerator's allocator peak
    on CUDA, else the process's peak resident set.
    """

    def __init__(self, device: torch.device, examples_per_step: int):
        self.device, self.examples_per_step, self.steps = device, examples_per_step, 0
        self.started = self.after_first = self.last = time.perf_counter()
        self.saving = 0.0
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)

    def step_done(self) -> None:
        self.steps += 1
        self.last = time.perf_counter()
        if self.steps == 1:
            self.after_first = self.last

    def saved(self) -> None:
        """Call after a checkpoint save that followed `step_done`: its time is not training time."""
        now = time.perf_counter()
        self.saving += now - self.last
        self.last = now

    def summary(self) -> dict:
        if not self.steps:
            return {}
        timed = self.steps - 1
        seconds = self.last - self.after_first - (self.saving if timed else 0.0)
        rate = timed * self.examples_per_step / seconds if timed and seconds > 0 else None
        if self.device.type == "cuda":
            peak, where = torch.cuda.max_memory_allocated(self.device) / 2**30, "cuda"
        else:
            peak, where = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, "cpu_rss"
        return {"train_seconds": round(self.last - self.started - self.saving, 2),
                "examples_per_second": None if rate is None else round(rate, 3),
                "peak_memory_gib": round(peak, 3), "peak_memory_of": where}

    def summary_line(self) -> str:
        s = self.summary()
        rate = "n/a" if s["examples_per_second"] is None else f"{s['examples_per_second']:.2f}"
        return (f"{self.steps} steps in {s['train_seconds']:.1f} s, {rate} examples/s (all processes) after the first "
                f"step, peak memory {s['peak_memory_gib']:.2f} GiB ({s['peak_memory_of']})")
