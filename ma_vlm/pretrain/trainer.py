"""The training loop shared by teacher pretraining and student distillation (only the loop: the
model comes from `model_factory.py`, the data from `data.py`, and the run folder's bookkeeping is
`run_folder.RunFolder`).

`run_training(recipe, output_dir)` pretrains (teacher when `model.use_prompt`);
`run_training(recipe, output_dir, teacher_dir=...)` distils (see `distill.py`). It runs under
`accelerate` as it is (one CPU process) or under `accelerate launch --config_file
recipes/accelerate/*.yaml` (GPUs, DeepSpeed ZeRO-2). Re-running the same command on the same
output folder resumes from `checkpoints/latest` and reproduces the uninterrupted loss curve.

Run folder: `recipe.yaml` (as run), `log.csv`, `loss_curve.png`, `checkpoints/`, `model/`
(final `save_pretrained` folder for `ma-vlm eval depth --model`), `summary.json`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from ma_vlm.errors import MaVlmInputError
from ma_vlm.model_folders import DEPTH_MODEL, check_model_folder
from ma_vlm.pretrain.checkpoints import LossLog, save_checkpoint
from ma_vlm.pretrain.model_factory import build_model
from ma_vlm.pretrain.recipe import Recipe
from ma_vlm.pretrain.run_folder import RunFolder, StepTimer


def _optimizer(model, recipe: Recipe):
    backbone_lr = recipe.train.backbone_learning_rate or recipe.train.learning_rate
    backbone, rest = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            (backbone if name.startswith("model.backbone.") else rest).append(parameter)
    groups = [{"params": rest, "lr": recipe.train.learning_rate}]
    if backbone:
        groups.append({"params": backbone, "lr": backbone_lr})
    return torch.optim.AdamW(groups, weight_decay=recipe.train.weight_decay)


def run_training(recipe: Recipe, output_dir: str | Path, teacher_dir: str | None = None,
                 stop_after_steps: int | None = None, progress: bool = True) -> dict:
    """Train (or resume) into `output_dir`; returns the summary dict (also `summary.json`).

    stop_after_steps: stop early (as an interruption would) after this many optimizer steps;
    the schedule still follows `train.max_steps`, so a later call resumes the same run.
    The process is left as it was found (`ma_vlm.runtime.isolated_run`).
    """
    from ma_vlm.runtime import isolated_run

    with isolated_run():
        return _run_training(recipe, output_dir, teacher_dir, stop_after_steps, progress)


def load_teacher(teacher_dir: str, student_config, device):
    """The frozen prompt-based teacher of a distillation run."""
    from ma_vlm.models.metric_anything import MetricAnythingForDepthEstimation

    check_model_folder(teacher_dir, "--teacher", DEPTH_MODEL, hub=False)
    teacher = MetricAnythingForDepthEstimation.from_pretrained(teacher_dir).eval().requires_grad_(False)
    if not teacher.config.use_prompt:
        raise MaVlmInputError(f"--teacher {teacher_dir} is prompt-free; distil from a teacher (use_prompt=True)")
    if student_config.use_prompt:
        raise MaVlmInputError("a distilled student is prompt-free: set model.use_prompt: false in the recipe")
    return teacher.to(device)


def _run_training(recipe: Recipe, output_dir: str | Path, teacher_dir: str | None, stop_after_steps: int | None,
                  progress: bool) -> dict:
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration, set_seed
    from tqdm.auto import tqdm
    from transformers import get_cosine_schedule_with_warmup

    from ma_vlm.models.metric_anything import MetricAnythingImageProcessor
    from ma_vlm.pretrain.data import training_loader
    from ma_vlm.pretrain.distill import training_losses
    from ma_vlm.pretrain.losses import DepthLoss
    from ma_vlm.pretrain.recipe import validate_recipe
    from ma_vlm.runtime import precision_reason, resolve_mixed_precision

    run = RunFolder(output_dir)
    train = validate_recipe(recipe).train
    # Before the finished-run shortcut: a finished run of another recipe (a recipe changed
    # upstream since) is an error that names the change, not the old model returned as this one.
    run.check_same_run(recipe)
    finished = run.finished_summary(train.max_steps)
    if finished is not None:  # a finished run returns at once (no model, data or accelerator built)
        return finished
    # dispatch_batches=False: every process reads the (streaming) data itself, so the loader keeps
    # its own generator (a dispatching loader would draw from the global RNG; see training_loader).
    mixed_precision = resolve_mixed_precision(train.mixed_precision)
    accelerator = Accelerator(mixed_precision=mixed_precision,
                              gradient_accumulation_steps=train.gradient_accumulation_steps,
                              step_scheduler_with_optimizer=False,
                              dataloader_config=DataLoaderConfiguration(dispatch_batches=False),
                              kwargs_handlers=_process_group_kwargs())
    is_main = accelerator.is_main_process
    if is_main and train.mixed_precision == "auto":
        print(f"mixed precision: {mixed_precision} ({precision_reason()}; MA_VLM_BF16=0 or 1 forces it)", flush=True)
    if is_main:
        run.write_recipe(recipe)
    set_seed(train.seed)
    model = build_model(recipe.model, teacher_dir)
    if recipe.model.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    processor = MetricAnythingImageProcessor(size=model.config.image_size)
    teacher = None if teacher_dir is None else load_teacher(teacher_dir, model.config, accelerator.device)
    prompt_spec = recipe.distill.teacher_prompt if teacher is not None else (
        recipe.data.prompt if model.config.use_prompt else None)

    optimizer = _optimizer(model, recipe)
    scheduler = get_cosine_schedule_with_warmup(optimizer, train.warmup_steps, train.max_steps)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)

    step, examples_seen = 0, 0
    checkpoint = run.latest_checkpoint()
    if checkpoint is not None:
        state = json.loads((checkpoint / "trainer_state.json").read_text())
        step, examples_seen = state["step"], state["examples_seen"]
        accelerator.load_state(str(checkpoint))  # weights, optimizer, scheduler and every RNG
    per_step = train.batch_size * train.gradient_accumulation_steps * accelerator.num_processes
    loader = training_loader(recipe, processor, prompt_spec, run.path, accelerator, examples_seen, per_step)
    loss_fn = DepthLoss(recipe.loss.variance_focus, recipe.loss.gradient_weight, recipe.loss.num_scales)
    log = LossLog(run.path, step, enabled=is_main)
    last_step = min(train.max_steps, stop_after_steps or train.max_steps)
    bar = tqdm(total=train.max_steps, initial=step, disable=not (progress and is_main), desc="train")
    batches = iter(loader)
    model.train()
    timer = StepTimer(accelerator.device, per_step)
    while step < last_step:
        totals = {"loss": 0.0, "silog": 0.0, "gradient": 0.0}
        for _ in range(train.gradient_accumulation_steps):
            batch = next(batches)
            with accelerator.accumulate(model):
                with accelerator.autocast():
                    losses = training_losses(model, batch, loss_fn, teacher, recipe.distill.ground_truth_weight)
                accelerator.backward(losses["loss"])
                if accelerator.sync_gradients and train.max_grad_norm:
                    accelerator.clip_grad_norm_(model.parameters(), train.max_grad_norm)
                optimizer.step()
                optimizer.zero_grad()
            for name in totals:
                totals[name] += losses[name].detach().float() / train.gradient_accumulation_steps
        scheduler.step()
        step += 1
        examples_seen += per_step
        values = {k: accelerator.reduce(v.reshape(1), "mean").item() for k, v in totals.items()}
        learning_rate = scheduler.get_last_lr()[0]
        if step % train.log_every == 0 or step == train.max_steps:
            log.write({"step": step, **{k: f"{v:.8f}" for k, v in values.items()},
                       "learning_rate": f"{learning_rate:.8g}", "examples_seen": examples_seen})
        timer.step_done()
        bar.update(1)
        bar.set_postfix(loss=f"{values['loss']:.4f}")
        if step % train.save_every == 0 or step == last_step:
            if step == last_step and is_main:  # before the (possibly long) last save
                print(f"{run.path}: {timer.summary_line()}", flush=True)
            save_checkpoint(accelerator, model, processor, run.path, {"step": step, "examples_seen": examples_seen})
            timer.saved()
    bar.close()
    log.close()
    summary = {"step": step, "max_steps": train.max_steps, "examples_seen": examples_seen,
               "output": str(run.path), "finished": step >= train.max_steps, "mixed_precision": mixed_precision,
               **timer.summary()}
    if is_main and step >= train.max_steps:
        run.finish(summary)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return summary


def _process_group_kwargs() -> list:
    """gloo for a launched run (LOCAL_RANK set) on a machine without CUDA.

    Why: under `accelerate launch` with DeepSpeed, accelerate picks the process-group backend from
    the GPU type and has none on a CPU machine; DeepSpeed then starts gloo itself, but accelerate,
    having no backend, counts 1 process, so every rank acts as the main one (we saw two ranks
    write the same checkpoint folder). accelerate's `use_cpu` does not help: it turns DeepSpeed off.
    """
    from accelerate.utils import InitProcessGroupKwargs

    if os.environ.get("LOCAL_RANK") is None or torch.cuda.is_available():
        return []
    return [InitProcessGroupKwargs(backend="gloo")]


