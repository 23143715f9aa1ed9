"""Distillation: a prompt-free student learns the teacher's dense prediction.

Per batch, the teacher sees the image *and* a sparse prompt sampled from the noisy source's
depth (`distill.teacher_prompt`); its metric depth is the student's target everywhere. Where
the sample's source is clean (the render), the ground-truth loss is added with weight
`distill.ground_truth_weight`. The student sees only RGB (and the focal length).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

from ma_vlm.models.metric_anything.depth_units import inverse_depth_to_depth


def teacher_depth(teacher, batch: dict) -> torch.Tensor:
    """(B, S, S) metres: the teacher's prediction given the batch's prompt."""
    with torch.no_grad():
        inverse = teacher(batch["pixel_values"], focal_length_px=batch["focal_length_px"],
                          prompt_depth=batch["prompt_depth"]).inverse_depth
    return inverse_depth_to_depth(inverse.float())


def training_losses(model, batch: dict, loss_fn, teacher=None, ground_truth_weight: float = 1.0) -> dict:
    """{"loss", "silog", "gradient"} for one batch.

    Pretraining (no teacher): the model (with the prompt when it is a teacher) against the
    batch's source depth. Distillation: against the teacher's depth, plus ground truth on clean
    samples; "silog"/"gradient" then report the distillation terms.
    """
    prompt = batch["prompt_depth"] if model_uses_prompt(model) else None
    with capture_head_pre_activation(model) as captured:
        outputs = model(batch["pixel_values"], focal_length_px=batch["focal_length_px"], prompt_depth=prompt)
    # An exp head (config.head_activation) has no dead zone: nothing to lift.
    relu_head = getattr(model, "module", model).config.head_activation == "relu"
    floor = relu_floor_penalty(captured["pre_activation"]) if relu_head else 0.0
    if teacher is None:
        losses = loss_fn(outputs.inverse_depth, batch["depth"], batch["valid_mask"])
        total = losses["loss"] + floor
        if outputs.network_inverse_depth is not None:
            # The network alone is supervised too: once the fusion gate trusts the densified prompt
            # (tanh ~ 1), the fused loss gives the network's own prediction (1 - w) ~ 0 gradient,
            # and a teacher trained without this term stopped learning from the image.
            total = total + loss_fn(outputs.network_inverse_depth, batch["depth"], batch["valid_mask"])["loss"]
        return {**losses, "loss": total}
    target = teacher_depth(teacher, batch)
    distilled = loss_fn(outputs.inverse_depth, target, torch.ones_like(target, dtype=torch.bool))
    clean_mask = batch["valid_mask"] & batch["clean"].view(-1, 1, 1, 1)
    ground_truth = loss_fn(outputs.inverse_depth, batch["depth"], clean_mask)
    return {**distilled, "loss": distilled["loss"] + ground_truth_weight * ground_truth["loss"] + floor}


# Canonical inverse depth f / (S * depth_m) below which the head's pre-activation is pushed back up
# (see below): ~10 km for f = S, far below any real depth (0.01 would already be 100 m, and would
# bias far outdoor predictions nearer), so only the dead zone at and below 0 is affected.
RELU_FLOOR = 1e-4


@contextmanager
def capture_head_pre_activation(model):
    """Captures the input of the head's final ReLU (its last conv's output) during a forward."""
    last_conv = getattr(model, "module", model).head[-2]
    captured: dict = {}
    hook = last_conv.register_forward_hook(lambda module, inputs, output: captured.update(pre_activation=output))
    try:
        yield captured
    finally:
        hook.remove()


def relu_floor_penalty(pre_activation: torch.Tensor) -> torch.Tensor:
    """mean(relu(RELU_FLOOR - pre_activation)): zero while every prediction is above the floor.

    Why: the head ends in a ReLU (the official architecture). Where its input falls below 0 the
    prediction is 0, the depth is clamped to 1000 m and no gradient flows back; we measured tiny
    runs (lr 1e-3 and 2e-3) that fell there within 40-160 steps and never came back (loss stuck
    at ~2.4). This term gives those pixels a gradient that lifts them again.
    """
    return torch.relu(RELU_FLOOR - pre_activation.float()).mean()


def model_uses_prompt(model) -> bool:
    # Unwrap first: a DeepSpeedEngine (accelerate + DeepSpeed) has its own `config`, a dict.
    return bool(getattr(model, "module", model).config.use_prompt)
