"""The training loop shared by teacher pretraining and student distillation.

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
import resource
import shutil
import time
from pathlib import Path

import torch

from ma_vlm.atomic_io import write_json_atomic, write_text_atomic
from ma_vlm.errors import MaVlmInputError
from ma_vlm.model_folders import DEPTH_MODEL, check_model_folder
from ma_vlm.pretrain.checkpoints import LossLog, latest_checkpoint, save_checkpoint
from ma_vlm.pretrain.recipe import ModelRecipe, Recipe, generation_config


def check_model_folders(model_recipe: ModelRecipe, teacher_dir: str | None = None) -> None:
    """The recipe's `init_from` and the `--teacher` folder are depth-model folders, checked
    before the run folder is made or anything loads."""
    if teacher_dir is not None:
        check_model_folder(teacher_dir, "--teacher", DEPTH_MODEL, hub=False)
    if model_recipe.init_from and model_recipe.init_from != "teacher":
        check_model_folder(model_recipe.init_from, "model.init_from", DEPTH_MODEL, hub=False)


def build_model(model_recipe: ModelRecipe, teacher_dir: str | None = None):
    """A `MetricAnythingForDepthEstimation` from a preset (+ overrides), a model folder
    (`init_from`; "teacher" = the distillation teacher's folder), and/or DINOv3 backbone weights."""
    from ma_vlm.encoders import MetricAnythingForDepthEstimation, preset_config
    from ma_vlm.encoders.presets import PRESETS

    init_from = teacher_dir if model_recipe.init_from == "teacher" else model_recipe.init_from
    check_config_overrides(model_recipe.overrides)
    if init_from:
        check_model_folder(init_from, "model.init_from", DEPTH_MODEL, hub=False)
        # A student folder loads into a teacher (prompt layers start at zero) and vice versa.
        model = MetricAnythingForDepthEstimation.from_pretrained(init_from, use_prompt=model_recipe.use_prompt)
        head_activation = model_recipe.overrides.get("head_activation", model.config.head_activation)
        changed = overrides_that_change(model.config, {k: v for k, v in model_recipe.overrides.items()
                                                       if k != "head_activation"})
        if changed:
            raise MaVlmInputError(
                f"model.overrides {changed} differ from {init_from}'s config: with model.init_from only "
                "head_activation can change (the loaded weights fix the rest); drop them or set init_from: null"
            )
        if head_activation != model.config.head_activation:
            switch_head_activation(model, head_activation)
        return model
    overrides = dict(model_recipe.overrides)
    if model_recipe.preset not in PRESETS:
        raise MaVlmInputError(f"model.preset {model_recipe.preset!r}: choose one of {sorted(PRESETS)}")
    if isinstance(overrides.get("backbone_config"), dict):
        base = dict(PRESETS[model_recipe.preset].get("backbone_config") or {})
        overrides["backbone_config"] = {**base, **overrides["backbone_config"]}
    overrides.setdefault("head_init_canonical_inverse_depth", model_recipe.initial_canonical_inverse_depth)
    config = preset_config(model_recipe.preset, use_prompt=model_recipe.use_prompt, **overrides)
    config.validate_architecture()
    # The training init is the model's own (`_init_weights`): nothing is re-initialised here.
    model = MetricAnythingForDepthEstimation(config)
    if model_recipe.backbone_from:
        load_backbone_weights(model, model_recipe.backbone_from)
    return model


def overrides_that_change(config, overrides: dict, prefix: str = "") -> list[str]:
    """Keys of `overrides` (nested `backbone_config` too) whose value differs from `config`'s."""
    changed = []
    for key, value in overrides.items():
        current = getattr(config, key, None)
        if isinstance(value, dict):
            changed += overrides_that_change(current, value, f"{prefix}{key}.")
        elif (list(value) if isinstance(value, (list, tuple)) else value) != (
                list(current) if isinstance(current, (list, tuple)) else current):
            changed.append(f"{prefix}{key}")
    return changed


def switch_head_activation(model, head_activation: str) -> None:
    """Gives a loaded model another final activation ("relu" / "exp"): every layer keeps its
    weights except the head's last conv, which starts again from a constant prediction (the
    config's `head_init_canonical_inverse_depth`), as a fresh model's does."""
    from ma_vlm.encoders.decoder_metric_anything import head_activation_module
    from ma_vlm.encoders.modeling_metric_anything import head_output_bias

    activation = head_activation_module(head_activation)  # checks the name before anything changes
    model.config.head_activation = head_activation
    last = model.head[-2]
    with torch.no_grad():  # not transformers' init.*: it skips weights loaded from a folder
        last.weight.zero_()
        last.bias.fill_(head_output_bias(model.config))
    model.head[-1] = activation


def check_config_overrides(overrides: dict) -> None:
    """A typo in `model.overrides` (or its `backbone_config`) is an error naming the key, not an
    unused attribute silently written into config.json."""
    import difflib
    from dataclasses import fields

    from ma_vlm.encoders.configuration_metric_anything import MetricAnythingConfig, MetricAnythingViTConfig

    def check(values: dict, config_class, where: str) -> None:
        known = {f.name for f in fields(config_class)} | {"model_type"}
        for key in values:
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f"; did you mean {close[0]}?" if close else f"; known: {sorted(known)}"
                raise MaVlmInputError(f"recipe key {where}.{key} is not a {config_class.__name__} field{hint}")

    check(overrides, MetricAnythingConfig, "model.overrides")
    if isinstance(overrides.get("backbone_config"), dict):
        check(overrides["backbone_config"], MetricAnythingViTConfig, "model.overrides.backbone_config")


def load_backbone_weights(model, source: str) -> None:
    """Copy a Transformers DINOv3 ViT checkpoint (folder or Hub id) into the tower's backbone."""
    from transformers import DINOv3ViTModel

    state = DINOv3ViTModel.from_pretrained(source).state_dict()
    own = model.model.backbone.state_dict()
    mismatched = [k for k in own if k not in state or state[k].shape != own[k].shape]
    if mismatched:
        raise MaVlmInputError(
            f"{source} does not match the recipe's backbone ({len(mismatched)} keys differ, e.g. {mismatched[:3]}); "
            "use the preset whose ViT size equals the checkpoint's"
        )
    model.model.backbone.load_state_dict(state)


def training_dataset(recipe: Recipe, output_dir: Path, is_main: bool, accelerator):
    """The base RGB-D dataset: `data.path`, or `data.generate` rendered once into OUTPUT/data."""
    from ma_vlm.data.loading import incomplete_reason, load_rgbd_dataset

    path = recipe.data.path
    if path is not None and not Path(path).exists():
        from ma_vlm.inputs import looks_local

        if looks_local(str(path)):
            raise MaVlmInputError(f"recipe key data.path {path!r} does not exist; give a `ma-vlm data generate` "
                                  "folder, or remove data.path to render data.generate into OUTPUT/data")
    if path is None:
        path = output_dir / "data"
        if is_main and (not any(path.glob("data/*.parquet")) or incomplete_reason(path)):
            from ma_vlm.data.generate import generate_dataset

            config = generation_config(recipe.data.generate)
            shutil.rmtree(path, ignore_errors=True)  # a half-rendered folder from a killed run (ours)
            generate_dataset(path, config, workers=int(os.environ.get("MA_VLM_RENDER_WORKERS", "1")))
        accelerator.wait_for_everyone()
    return load_rgbd_dataset(path, streaming=recipe.data.streaming)


def _prompt_sampler(spec: str | None):
    from ma_vlm.data.sparse_prompts import default_prompt_mixture, parse_prompt_spec

    if spec is None:
        return None
    return default_prompt_mixture() if spec == "default" else parse_prompt_spec(spec)


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


def _run_training(recipe: Recipe, output_dir: str | Path, teacher_dir: str | None, stop_after_steps: int | None,
                  progress: bool) -> dict:
    import yaml
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration, set_seed
    from tqdm.auto import tqdm
    from transformers import get_cosine_schedule_with_warmup

    from ma_vlm.encoders import MetricAnythingForDepthEstimation, MetricAnythingImageProcessor
    from ma_vlm.pretrain.data import ExampleMaker, StreamingTrainingStream, TrainingStream, source_mixture
    from ma_vlm.pretrain.distill import training_losses
    from ma_vlm.pretrain.losses import DepthLoss
    from ma_vlm.pretrain.recipe import validate_recipe
    from ma_vlm.runtime import precision_reason, resolve_mixed_precision

    output_dir = Path(output_dir)
    train = validate_recipe(recipe).train
    # Before the finished-run shortcut: a finished run of another recipe (a recipe changed
    # upstream since) is an error that names the change, not the old model returned as this one.
    check_same_run(recipe, output_dir)
    finished = _finished_summary(output_dir, train.max_steps)
    if finished is not None:  # a finished run returns at once (no model, data or accelerator built)
        return finished
    # dispatch_batches=False: every process reads the (streaming) data itself, so the loader keeps
    # its own generator (a dispatching loader would draw from the global RNG; see the loader below).
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
        output_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(output_dir / "recipe.yaml", yaml.safe_dump(recipe.to_dict(), sort_keys=False))
    set_seed(train.seed)
    model = build_model(recipe.model, teacher_dir)
    if recipe.model.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    processor = MetricAnythingImageProcessor(size=model.config.image_size)
    teacher = None
    if teacher_dir is not None:
        check_model_folder(teacher_dir, "--teacher", DEPTH_MODEL, hub=False)
        teacher = MetricAnythingForDepthEstimation.from_pretrained(teacher_dir).eval().requires_grad_(False)
        if not teacher.config.use_prompt:
            raise MaVlmInputError(f"--teacher {teacher_dir} is prompt-free; distil from a teacher (use_prompt=True)")
        if model.config.use_prompt:
            raise MaVlmInputError("a distilled student is prompt-free: set model.use_prompt: false in the recipe")
        teacher.to(accelerator.device)
    sampler_spec = recipe.distill.teacher_prompt if teacher is not None else (
        recipe.data.prompt if model.config.use_prompt else None)
    maker = ExampleMaker(processor, _prompt_sampler(sampler_spec))
    mixture = source_mixture(training_dataset(recipe, output_dir, is_main, accelerator), recipe.data.sources,
                             train.seed)

    optimizer = _optimizer(model, recipe)
    scheduler = get_cosine_schedule_with_warmup(optimizer, train.warmup_steps, train.max_steps)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)

    step, examples_seen = 0, 0
    checkpoint = latest_checkpoint(output_dir)
    if checkpoint is not None:
        state = json.loads((checkpoint / "trainer_state.json").read_text())
        step, examples_seen = state["step"], state["examples_seen"]
        accelerator.load_state(str(checkpoint))  # weights, optimizer, scheduler and every RNG
    per_step = train.batch_size * train.gradient_accumulation_steps * accelerator.num_processes
    if recipe.data.streaming:
        stream = StreamingTrainingStream(mixture, maker, train.seed, recipe.data.shuffle_buffer, examples_seen)
        workers = 0  # one process reads the stream in order
    else:
        stream = TrainingStream(mixture, maker, train.seed, examples_seen, train.max_steps * per_step)
        workers = train.num_workers
    # The loader's own generator: starting an iterator must not draw from torch's global RNG, which
    # training draws from too (DINOv3's RoPE coordinate rescaling); otherwise a resumed run, whose
    # iterator starts later, would see another RNG stream than the uninterrupted one.
    loader = accelerator.prepare(torch.utils.data.DataLoader(
        stream, batch_size=train.batch_size, num_workers=workers, drop_last=True,
        generator=torch.Generator().manual_seed(train.seed)))
    loss_fn = DepthLoss(recipe.loss.variance_focus, recipe.loss.gradient_weight, recipe.loss.num_scales)
    log = LossLog(output_dir, step, enabled=is_main)
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
                print(f"{output_dir}: {timer.summary_line()}", flush=True)
            trainer_state = {"step": step, "examples_seen": examples_seen}
            save_checkpoint(accelerator, model, processor, output_dir, trainer_state)
            timer.saved()
    bar.close()
    log.close()
    summary = {"step": step, "max_steps": train.max_steps, "examples_seen": examples_seen,
               "output": str(output_dir), "finished": step >= train.max_steps, "mixed_precision": mixed_precision,
               **timer.summary()}
    if is_main and step >= train.max_steps:
        _publish_final_model(output_dir)
        losses = _read_losses(output_dir / "log.csv")
        summary.update(first_loss=losses[0], last_loss=losses[-1])
        write_json_atomic(output_dir / "summary.json", summary)
    accelerator.wait_for_everyone()
    accelerator.end_training()
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


# Sections a resumed run may not change: its checkpoint holds that model, trained on that data
# with that objective. `train` may change (more steps, another learning rate) and resumes.
_RUN_DEFINING_SECTIONS = ("model", "data", "loss", "distill")


def check_same_run(recipe: Recipe, output_dir: Path) -> None:
    """Refuse to resume a run folder whose checkpoints come from another recipe (say a recipe
    changed upstream): the checkpoint would not fit the model, or would silently continue
    another experiment. Names the first differing key and the fix."""
    import yaml

    stored_path = output_dir / "recipe.yaml"
    if latest_checkpoint(output_dir) is None or not stored_path.is_file():
        return
    stored = yaml.safe_load(stored_path.read_text()) or {}
    current = recipe.to_dict()
    for section in _RUN_DEFINING_SECTIONS:
        old, new = stored.get(section) or {}, current.get(section) or {}
        for key in sorted(set(old) | set(new)):
            if key in ("path",):  # the same data may move (another --data spelling)
                continue
            if old.get(key) != new.get(key):
                raise MaVlmInputError(
                    f"{output_dir} holds a run of another recipe ({section}.{key} was {old.get(key)!r}, now "
                    f"{new.get(key)!r}); give a new --output, or delete {output_dir} to start this recipe afresh")


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


def _finished_summary(output_dir: Path, max_steps: int) -> dict | None:
    """The summary of a run in `output_dir` that already finished `max_steps` with its model
    published, else None."""
    path = output_dir / "summary.json"
    if not (path.is_file() and (output_dir / "model" / "config.json").is_file()):
        return None
    summary = json.loads(path.read_text())
    return summary if summary.get("finished") and summary.get("max_steps") == max_steps else None


def _publish_final_model(output_dir: Path) -> None:
    """Copy the last checkpoint's `model/` to OUTPUT/model atomically."""
    checkpoint = latest_checkpoint(output_dir)
    staging = output_dir / ".staging-model"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(checkpoint / "model", staging)
    shutil.rmtree(output_dir / "model", ignore_errors=True)
    os.replace(staging, output_dir / "model")


def _read_losses(log_path: Path) -> list[float]:
    from ma_vlm.pretrain.checkpoints import read_log

    return [float(r["loss"]) for r in read_log(log_path)]
