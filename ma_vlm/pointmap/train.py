"""Train a point-map student on our RGB-D data with Transformers' `Trainer`.

Targets come from the data engine's records: ground-truth points = depth back-projected with the
record's intrinsics (metres), valid = depth > 0. The loss follows MoGe's split of the problem:
  * points: the head's affine point map against the truth normalised to unit mean depth, L1
    relative to depth; the camera (focal, shift) is *not* an output, it is recovered from these
    points at inference, so learning the points is learning the camera;
  * metric scale: |log scale_head - log mean depth|, the scale that makes the points metric;
  * mask: binary cross-entropy against valid pixels (sky / beyond the far plane are invalid).
Images keep their own size (the camera zoo varies aspect ratios), so batches hold one image and
the Trainer accumulates gradients over several.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from transformers import Trainer, TrainerCallback, TrainingArguments


class PointMapExamples(torch.utils.data.Dataset):
    """Rows of an RGB-D dataset -> pixel_values (3, H, W), gt_points (H, W, 3) metres, valid (H, W)."""

    def __init__(self, dataset, processor):
        self.dataset, self.processor = dataset, processor

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        from ma_vlm.data.schema import decode_record
        from ma_vlm.geometry import Intrinsics, backproject

        record = decode_record(self.dataset[index])
        depth = record["depth"].astype(np.float32)
        points = backproject(depth, Intrinsics.from_cam_in(record["intrinsics"]))
        return {"pixel_values": self.processor(record["image"])["pixel_values"][0],
                "gt_points": torch.from_numpy(points), "valid": torch.from_numpy(depth > 0)}


def collate_one(examples: list[dict]) -> dict:
    if len(examples) != 1:
        raise ValueError("point-map training keeps each image's size: use per_device_train_batch_size=1")
    return {key: value[None] for key, value in examples[0].items()}


def pointmap_loss(outputs, gt_points: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """outputs: `MetricAnythingPointMapOutput` (affine_points, mask_probability, metric_scale).

    The truth is normalised to unit mean depth (its scale becomes the metric-scale target), and the
    affine point map is trained to it directly. A least-squares scale fitted per image instead lets
    the point map shrink towards 0 under the exp remap (seen: z -> 0 within 200 steps at lr 1e-3).
    """
    weight = valid.float()
    count = weight.sum((1, 2)).clamp_min(1)
    mean_depth = ((gt_points[..., 2] * weight).sum((1, 2)) / count).clamp_min(1e-3)  # (B,) metres per unit
    target = gt_points / mean_depth[:, None, None, None]
    depth = target[..., 2].clamp_min(1e-3)
    point_error = ((outputs.affine_points - target).abs().sum(-1) / depth * weight).sum() / weight.sum().clamp_min(1)
    scale_error = (outputs.metric_scale.log() - mean_depth.log()).abs().mean()
    mask_error = F.binary_cross_entropy(outputs.mask_probability.clamp(1e-6, 1 - 1e-6), weight)
    return point_error + scale_error + 0.1 * mask_error


class TimeBudget(TrainerCallback):
    """Stop after `minutes` of training (a CPU budget), at a step boundary."""

    def __init__(self, minutes: float):
        import time

        self.deadline = time.monotonic() + 60 * minutes

    def on_step_end(self, args, state, control, **kwargs):
        import time

        if time.monotonic() > self.deadline:
            control.should_training_stop = True
        return control


class PointMapTrainer(Trainer):
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(pixel_values=inputs["pixel_values"], num_tokens=self.num_tokens, recover_camera=False)
        loss = pointmap_loss(outputs, inputs["gt_points"], inputs["valid"])
        return (loss, outputs) if return_outputs else loss


def train_pointmap(data: str, output_dir: str, preset: str = "small", max_steps: int = 300, learning_rate=3e-4,
                   gradient_accumulation_steps: int = 4, num_tokens: int = 96, seed: int = 0,
                   max_minutes: float | None = None):
    """Train from scratch on `data` (an RGB-D dataset) and save a point-map folder in `output_dir`.
    `max_minutes` stops early (constant learning rate then, so a cut run is not mid-decay).
    Trains in fp32 on any hardware, and leaves the process as it was (`ma_vlm.runtime.isolated_run`)."""
    from ma_vlm.runtime import isolated_run

    with isolated_run():
        return _train_pointmap(data, output_dir, preset, max_steps, learning_rate, gradient_accumulation_steps,
                               num_tokens, seed, max_minutes)


def _train_pointmap(data, output_dir, preset, max_steps, learning_rate, gradient_accumulation_steps, num_tokens,
                    seed, max_minutes):
    from ma_vlm.data.loading import load_rgbd_dataset
    from ma_vlm.models.metric_anything_pointmap import (
        MetricAnythingForPointMapEstimation,
        MetricAnythingPointMapImageProcessor,
        pointmap_preset_config,
    )

    torch.manual_seed(seed)
    model = MetricAnythingForPointMapEstimation(pointmap_preset_config(preset))
    with torch.no_grad():  # start near a 1:1 scale and a mostly-valid mask
        model.scale_head[-1].bias.zero_()
    processor = MetricAnythingPointMapImageProcessor()
    train = PointMapExamples(load_rgbd_dataset(data), processor)
    args = TrainingArguments(
        output_dir=str(Path(output_dir) / "trainer"), max_steps=max_steps, per_device_train_batch_size=1,
        gradient_accumulation_steps=gradient_accumulation_steps, learning_rate=learning_rate, warmup_steps=20,
        lr_scheduler_type="cosine" if max_minutes is None else "constant_with_warmup", logging_steps=10, save_strategy="no", report_to=[], seed=seed,
        remove_unused_columns=False, dataloader_num_workers=0, use_cpu=not torch.cuda.is_available(),
        max_grad_norm=1.0,
    )
    callbacks = [TimeBudget(max_minutes)] if max_minutes is not None else []
    trainer = PointMapTrainer(model=model, args=args, train_dataset=train, data_collator=collate_one,
                              callbacks=callbacks)
    trainer.num_tokens = num_tokens
    trainer.train()
    model.save_pretrained(output_dir)
    processor.save_pretrained(output_dir)
    return trainer.state.log_history
