"""``ma-vlm pretrain``, ``ma-vlm distill`` and ``ma-vlm scaling``.

    ma-vlm pretrain --recipe recipes/pretrain_teacher_tiny.yaml --output runs/teacher
    ma-vlm distill  --recipe recipes/distill_student_tiny.yaml --teacher runs/teacher/model --output runs/student
    ma-vlm scaling  --recipe recipes/scaling_tiny.yaml --output runs/scaling

Multi-GPU / DeepSpeed: ``accelerate launch --config_file recipes/accelerate/deepspeed_zero2.yaml
-m ma_vlm.cli pretrain --recipe recipes/pretrain_teacher_full.yaml --output runs/teacher_full``.
Re-running a command on the same --output resumes from its last checkpoint.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    pretrain = subparsers.add_parser(
        "pretrain", help="pretrain the prompt-based teacher (or any model) from a YAML recipe",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _common(pretrain)
    pretrain.set_defaults(func=_pretrain)

    distill = subparsers.add_parser(
        "distill", help="distil a prompt-free student from a teacher folder",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _common(distill)
    distill.add_argument("--teacher", required=True, help="teacher model folder (e.g. RUN/model of ma-vlm pretrain)")
    distill.set_defaults(func=_distill)

    scaling = subparsers.add_parser(
        "scaling", help="train at several data sizes / camera counts; held-out error vs data (PNG, CSV, markdown)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    scaling.add_argument("--recipe", required=True, help="YAML recipe with a `scaling:` section")
    scaling.add_argument("--output", required=True, help="run folder")
    _set_option(scaling)
    scaling.set_defaults(func=_scaling)


def _common(parser) -> None:
    parser.add_argument("--recipe", required=True, help="YAML recipe (copy one from recipes/)")
    parser.add_argument("--output", required=True, help="run folder; an existing one is resumed")
    parser.add_argument("--max-steps", type=int, default=None, help="override train.max_steps")
    parser.add_argument("--data", default=None, help="override data.path (a `ma-vlm data generate` folder)")
    _set_option(parser)


def _set_option(parser) -> None:
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a recipe value, e.g. --set train.learning_rate=1.0e-4 (YAML value; repeatable)")


def _load(args):
    from ma_vlm.inputs import ensure_output_dir
    from ma_vlm.pretrain.model_factory import check_model_folders
    from ma_vlm.pretrain.recipe import load_recipe, validate_recipe

    recipe = load_recipe(args.recipe, args.set)
    check_model_folders(recipe.model, getattr(args, "teacher", None))
    ensure_output_dir(args.output)
    if args.max_steps is not None:
        recipe.train.max_steps = args.max_steps
    if args.data is not None:
        recipe.data.path = args.data
    return validate_recipe(recipe)


def _report(summary: dict) -> int:
    if summary.get("finished") and "first_loss" in summary:  # the main process's summary (not other ranks')
        print(f"trained {summary['step']} steps: loss {summary['first_loss']:.4f} -> {summary['last_loss']:.4f}; "
              f"model in {summary['output']}/model")
    return 0


def _pretrain(args) -> int:
    from ma_vlm.pretrain.trainer import run_training

    return _report(run_training(_load(args), args.output))


def _distill(args) -> int:
    from ma_vlm.pretrain.trainer import run_training

    return _report(run_training(_load(args), args.output, teacher_dir=args.teacher))


def _scaling(args) -> int:
    from ma_vlm.errors import MaVlmInputError
    from ma_vlm.inputs import ensure_output_dir
    from ma_vlm.pretrain.recipe import load_recipe
    from ma_vlm.pretrain.scaling import check_scaling_recipe, run_scaling
    from ma_vlm.recipes import read_yaml_mapping

    recipe = load_recipe(args.recipe, args.set)
    if "scaling" not in read_yaml_mapping(args.recipe, "recipes/scaling_tiny.yaml") and not any(
            override.startswith("scaling.") for override in args.set):
        raise MaVlmInputError(f"--recipe {args.recipe} has no `scaling:` section (the data sizes to train at); "
                              "copy recipes/scaling_tiny.yaml, or use `ma-vlm pretrain` for one run")
    check_scaling_recipe(recipe)  # before the output folder is made
    ensure_output_dir(args.output)
    table = run_scaling(recipe, args.output)
    print(table)
    return 0
