"""Atomic, resumable checkpoints and the run's loss log.

A checkpoint folder `checkpoints/step-NNNNNNN/` holds `accelerator.save_state` (model weights as
safetensors, optimizer, scheduler, every RNG), `trainer_state.json` (step, examples seen,
the position in the data stream) and `model/` (`save_pretrained` + image processor: loadable on its own).
It is written to a temporary folder and moved into place with `os.replace`, then
`checkpoints/latest` (a one-line file, itself replaced atomically) names it: a `kill -9` at any
moment leaves either the old or the new checkpoint, never a half-written one.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

from ma_vlm.atomic_io import atomic_path, write_text_atomic

LOG_COLUMNS = ("step", "loss", "silog", "gradient", "learning_rate", "examples_seen")


def latest_checkpoint(output_dir: Path) -> Path | None:
    pointer = Path(output_dir) / "checkpoints" / "latest"
    if not pointer.exists():
        return None
    folder = pointer.parent / pointer.read_text().strip()
    return folder if (folder / "trainer_state.json").exists() else None


def save_checkpoint(accelerator, model, processor, output_dir: Path, trainer_state: dict, keep: int = 2) -> Path:
    """Stage, then `os.replace` into `checkpoints/step-N`; keeps the newest `keep` checkpoints."""
    root = Path(output_dir) / "checkpoints"
    name = f"step-{trainer_state['step']:07d}"
    final = root / name
    staging = root / f".staging-{name}"
    if accelerator.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(staging), safe_serialization=True)
    state_dict = accelerator.get_state_dict(model)
    if accelerator.is_main_process:
        accelerator.unwrap_model(model).save_pretrained(staging / "model", state_dict=state_dict)
        processor.save_pretrained(staging / "model")
        (staging / "trainer_state.json").write_text(json.dumps(trainer_state, indent=2))
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
        write_text_atomic(root / "latest", name + "\n")
        for old in sorted(p for p in root.glob("step-*") if p.is_dir())[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


class LossLog:
    """`log.csv` in the run folder (flushed every row) and `loss_curve.png`."""

    def __init__(self, output_dir: Path, resume_step: int, enabled: bool = True):
        self.path = Path(output_dir) / "log.csv"
        self.enabled = enabled
        if not enabled:
            return
        rows = read_log(self.path) if self.path.exists() else []
        # Rows logged after the checkpoint we resume from belong to the interrupted run: drop them.
        kept = [r for r in rows if int(r["step"]) <= resume_step]
        lines = [",".join(LOG_COLUMNS)] + [",".join(str(r[c]) for c in LOG_COLUMNS) for r in kept]
        write_text_atomic(self.path, "\n".join(lines) + "\n")
        self.file = self.path.open("a", newline="")
        self.writer = csv.DictWriter(self.file, fieldnames=LOG_COLUMNS)

    def write(self, row: dict) -> None:
        if self.enabled:
            self.writer.writerow({c: row[c] for c in LOG_COLUMNS})
            self.file.flush()

    def close(self) -> None:
        if self.enabled:
            self.file.close()
            plot_loss_curve(self.path, self.path.with_name("loss_curve.png"))


def read_log(path: Path) -> list[dict]:
    with Path(path).open() as handle:
        return list(csv.DictReader(handle))


def plot_loss_curve(log_path: Path, png_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_log(log_path)
    if not rows:
        return
    steps = [int(r["step"]) for r in rows]
    figure, axis = plt.subplots(figsize=(6, 4))
    for column in ("loss", "silog", "gradient"):
        axis.plot(steps, [float(r[column]) for r in rows], label=column)
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("loss (log-depth units)")
    axis.set_title(Path(log_path).parent.name)
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    with atomic_path(png_path) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)
