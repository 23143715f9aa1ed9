"""Distillation: a prompt-free student learns the teacher's dense prediction.

Per batch, the teacher sees the image *and* a sparse prompt sampled from the noisy source's
depth (`distill.teacher_prompt`); its metric depth is the student's target everywhere. Where
the sample's source is clean (the render), the ground-truth loss is added with weight
`distill.ground_truth_weight`. The student sees only RGB (and the focal length).
"""

from __future__ import annotations

import torch

from ma_vlm.pretrain.losses import INVERSE_DEPTH_RANGE


def teacher_depth(teacher, batch: dict) -> torch.Tensor:
    """(B, S, S) metres: the teacher's prediction given the batch's prompt."""
    with torch.no_grad():
        inverse = teacher(batch["pixel_values"], focal_length_px=batch["focal_length_px"],
                          prompt_depth=batch["prompt_depth"]).inverse_depth
    return 1.0 / inverse.float().clamp(*INVERSE_DEPTH_RANGE)


def training_losses(model, batch: dict, loss_fn, teacher=None, ground_truth_weight: float = 1.0) -> dict:
    """{"loss", "silog", "gradient"} for one batch.

    Pretraining (no teacher): the model (with the prompt when it is a teacher) against the
    batch's source depth. Distillation: against the teacher's depth, plus ground truth on clean
    samples; "silog"/"gradient" then report the distillation terms.
    """
    prompt = batch["prompt_depth"] if model_uses_prompt(model) else None
    outputs = model(batch["pixel_values"], focal_length_px=batch["focal_length_px"], prompt_depth=prompt)
    if teacher is None:
        return loss_fn(outputs.inverse_depth, batch["depth"], batch["valid_mask"])
    target = teacher_depth(teacher, batch)
    distilled = loss_fn(outputs.inverse_depth, target, torch.ones_like(target, dtype=torch.bool))
    clean_mask = batch["valid_mask"] & batch["clean"].view(-1, 1, 1, 1)
    ground_truth = loss_fn(outputs.inverse_depth, batch["depth"], clean_mask)
    return {**distilled, "loss": distilled["loss"] + ground_truth_weight * ground_truth["loss"]}


def model_uses_prompt(model) -> bool:
    config = getattr(model, "config", None) or model.module.config
    return bool(config.use_prompt)
