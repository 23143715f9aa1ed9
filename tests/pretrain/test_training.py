"""Pretraining and distillation runs: the loss falls, an interrupted run resumes exactly,
the distilled student is prompt-free and loads for evaluation."""

import json

import pytest

from ma_vlm.pretrain.checkpoints import read_log
from ma_vlm.pretrain.trainer import run_training


def _losses(run_dir):
    return [float(row["loss"]) for row in read_log(run_dir / "log.csv")]


def test_tiny_pretraining_loss_falls_and_writes_a_run_folder(tmp_path, tiny_recipe, two_scene_dataset):
    from ma_vlm.data.loading import load_rgbd_dataset

    one_scene = tmp_path / "one_scene"
    (one_scene / "data").mkdir(parents=True)
    load_rgbd_dataset(two_scene_dataset).select([0]).to_parquet(str(one_scene / "data" / "train.parquet"))
    tiny_recipe.data.path = str(one_scene)
    tiny_recipe.data.sources = {"render": 1.0}
    tiny_recipe.train.max_steps, tiny_recipe.train.warmup_steps, tiny_recipe.train.learning_rate = 4, 0, 1e-2
    summary = run_training(tiny_recipe, tmp_path / "run", progress=False)
    losses = _losses(tmp_path / "run")
    assert summary["finished"] and len(losses) == 4
    assert losses[-1] < 0.85 * losses[0], losses
    # Throughput (after the first step, saving left out) and peak memory, for the run's report.
    written = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert written["examples_per_second"] > 0 and written["peak_memory_of"] == "cpu_rss"
    assert 0.1 < written["peak_memory_gib"] < 64 and 0 < written["train_seconds"]
    for name in ("loss_curve.png", "recipe.yaml", "summary.json", "model/config.json",
                 "model/model.safetensors", "model/preprocessor_config.json"):
        assert (tmp_path / "run" / name).exists(), name


def test_resuming_an_interrupted_run_reproduces_the_uninterrupted_loss_curve(tmp_path, tiny_recipe):
    run_training(tiny_recipe, tmp_path / "straight", progress=False)
    interrupted = run_training(tiny_recipe, tmp_path / "resumed", stop_after_steps=2, progress=False)
    assert not interrupted["finished"] and len(_losses(tmp_path / "resumed")) == 2
    # A run killed after its checkpoint may have logged further steps; they are dropped on resume.
    with (tmp_path / "resumed" / "log.csv").open("a") as log:
        log.write("3,9.9,9.9,9.9,0.1,3\n")
    run_training(tiny_recipe, tmp_path / "resumed", progress=False)  # rebuilds everything from disk
    straight, resumed = _losses(tmp_path / "straight"), _losses(tmp_path / "resumed")
    assert len(resumed) == len(straight) == 4
    # Bit-exact: the same data, weights, optimizer state and RNG stream (RoPE rescaling draws).
    assert resumed == straight
    state = json.loads((tmp_path / "resumed" / "checkpoints" / "step-0000004" / "trainer_state.json").read_text())
    assert state["step"] == 4 and state["examples_seen"] == 4


def test_a_streaming_run_resumes_to_the_same_loss_curve(tmp_path, tiny_recipe):
    """`data.streaming: true`: the interleaved source mixture is an IterableDataset shuffled with a
    buffer; a resumed run replays it to the checkpoint's position, shuffle buffer included."""
    tiny_recipe.data.streaming, tiny_recipe.data.shuffle_buffer = True, 4
    run_training(tiny_recipe, tmp_path / "straight", progress=False)
    run_training(tiny_recipe, tmp_path / "resumed", stop_after_steps=2, progress=False)
    run_training(tiny_recipe, tmp_path / "resumed", progress=False)
    straight, resumed = _losses(tmp_path / "straight"), _losses(tmp_path / "resumed")
    assert len(straight) == 4 and resumed == straight
    state = json.loads((tmp_path / "resumed" / "checkpoints" / "step-0000004" / "trainer_state.json").read_text())
    assert state["examples_seen"] == 4


def test_distillation_trains_a_prompt_free_student_from_a_teacher(tmp_path, tiny_recipe):
    from ma_vlm.models.metric_anything import MetricAnythingForDepthEstimation

    tiny_recipe.train.max_steps = 1
    run_training(tiny_recipe, tmp_path / "teacher", progress=False)
    tiny_recipe.model.use_prompt, tiny_recipe.model.init_from = False, "teacher"
    tiny_recipe.model.overrides["head_activation"] = "exp"  # as recipes/distill_student_small.yaml
    tiny_recipe.distill.teacher_prompt = "lidar:8"
    tiny_recipe.train.max_steps = 2
    summary = run_training(tiny_recipe, tmp_path / "student", teacher_dir=str(tmp_path / "teacher" / "model"),
                           progress=False)
    assert summary["finished"] and all(loss > 0 for loss in _losses(tmp_path / "student"))
    student = MetricAnythingForDepthEstimation.from_pretrained(tmp_path / "student" / "model")
    assert not student.config.use_prompt and student.config.head_activation == "exp"
    assert not any("prompt_depth_layer" in name for name in student.state_dict())


def test_a_loaded_model_can_switch_to_a_log_space_head_and_nothing_else(tmp_path, tiny_model_config):
    """`model.overrides: {head_activation: exp}` with `init_from`: every weight is kept except the
    head's last conv, which starts again at the constant `head_init_canonical_inverse_depth`;
    an override the loaded weights cannot honour is an error naming it."""
    import torch

    from ma_vlm.errors import MaVlmInputError
    from ma_vlm.models.metric_anything import MetricAnythingForDepthEstimation
    from ma_vlm.pretrain.model_factory import build_model
    from ma_vlm.pretrain.recipe import ModelRecipe

    tiny_model_config.use_prompt = False
    torch.manual_seed(0)
    MetricAnythingForDepthEstimation(tiny_model_config).save_pretrained(tmp_path / "relu")
    saved = MetricAnythingForDepthEstimation.from_pretrained(tmp_path / "relu").state_dict()
    recipe = ModelRecipe(init_from=str(tmp_path / "relu"), use_prompt=False,
                         overrides={"head_activation": "exp", "image_size": 256})  # 256: unchanged, allowed
    model = build_model(recipe).eval()
    assert model.config.head_activation == "exp"
    last = [name for name in saved if name.startswith("head.")][-2:]  # the last conv's weight, bias
    assert all(torch.equal(model.state_dict()[k], v) for k, v in saved.items() if k not in last)
    with torch.no_grad():
        canonical = model(torch.rand(1, 3, 256, 256), focal_length_px=torch.tensor([200.0])).canonical_inverse_depth
    torch.testing.assert_close(canonical, torch.full_like(canonical, model.config.head_init_canonical_inverse_depth))
    model.save_pretrained(tmp_path / "exp")
    assert MetricAnythingForDepthEstimation.from_pretrained(tmp_path / "exp").config.head_activation == "exp"
    with pytest.raises(MaVlmInputError, match="image_size"):
        build_model(ModelRecipe(init_from=str(tmp_path / "relu"), use_prompt=False, overrides={"image_size": 512}))
    with pytest.raises(MaVlmInputError, match="head_activation 'log'"):
        build_model(ModelRecipe(init_from=str(tmp_path / "relu"), use_prompt=False,
                                overrides={"head_activation": "log"}))


def test_cli_parses_pretrain_distill_and_scaling():
    from ma_vlm.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["distill", "--recipe", "r.yaml", "--teacher", "t", "--output", "o"])
    assert args.teacher == "t" and callable(args.func)
    assert parser.parse_args(["pretrain", "--recipe", "r.yaml", "--output", "o"]).command == "pretrain"
    assert parser.parse_args(["scaling", "--recipe", "r.yaml", "--output", "o"]).command == "scaling"


def test_recipes_reject_unknown_keys(tmp_path):
    from ma_vlm.errors import MaVlmInputError
    from ma_vlm.pretrain.recipe import load_recipe

    path = tmp_path / "typo.yaml"
    path.write_text("train:\n  max_step: 3\n")
    with pytest.raises(MaVlmInputError, match="max_step"):
        load_recipe(path)


def test_a_finished_run_returns_at_once(tmp_path, tiny_recipe, monkeypatch):
    import ma_vlm.pretrain.trainer as trainer

    tiny_recipe.train.max_steps = 1
    first = run_training(tiny_recipe, tmp_path / "run", progress=False)
    monkeypatch.setattr(trainer, "build_model", lambda *a, **k: (_ for _ in ()).throw(AssertionError("rebuilt")))
    assert run_training(tiny_recipe, tmp_path / "run", progress=False) == first
    # The recipe changed since (say a pulled update of recipes/*.yaml): not the old model, an error.
    from ma_vlm.errors import MaVlmInputError

    tiny_recipe.loss.variance_focus = 0.5
    with pytest.raises(MaVlmInputError, match="loss.variance_focus"):
        run_training(tiny_recipe, tmp_path / "run", progress=False)


def test_a_run_folder_of_another_recipe_is_refused_not_resumed(tmp_path, tiny_recipe):
    """A recipe that changed upstream (another model size) must not resume the old checkpoint
    (a load error deep in accelerate, or another experiment continued silently): one line naming
    the key, and the old run untouched. More steps on the same recipe still resume."""
    from ma_vlm.errors import MaVlmInputError

    run_training(tiny_recipe, tmp_path / "run", stop_after_steps=2, progress=False)
    before = (tmp_path / "run" / "recipe.yaml").read_text()
    tiny_recipe.model.overrides["decoder_hidden_size"] = 16
    with pytest.raises(MaVlmInputError, match=r"model\.overrides .*give a new --output"):
        run_training(tiny_recipe, tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "recipe.yaml").read_text() == before
    tiny_recipe.model.overrides["decoder_hidden_size"] = 8
    tiny_recipe.train.max_steps = 6
    assert run_training(tiny_recipe, tmp_path / "run", progress=False)["step"] == 6
