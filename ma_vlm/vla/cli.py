"""``ma-vlm vla ...``: scripted-expert demonstrations and closed-loop evaluation of `ma_vla` policies
in MetaWorld (default) or PushT (`--env pusht`, one fixed task: no --tasks).

    ma-vlm vla demos --tasks reach-v3,push-v3,pick-place-v3 --episodes N --root DIR
    ma-vlm vla demos --env pusht --episodes N --root DIR
    ma-vlm vla demos --tasks ... --episodes N --root DIR --no-depth   # for LeRobot's ACT/Diffusion/VQBeT
    ma-vlm vla demos --env libero --suite libero_spatial --episodes N --root DIR
    ma-vlm vla eval --policy RUN/checkpoints/last/pretrained_model --tasks ... --episodes N --output DIR
    ma-vlm vla eval --env pusht --policy ... --episodes N --output DIR
    ma-vlm vla table --run NAME=DIR [--run ...] --output table.md

Training is LeRobot's own: `lerobot-train --policy.type=ma_vla --dataset.root=DIR ...`.
"""

from __future__ import annotations

import argparse

from ma_vlm.vla.environments import ENV_NAMES

ENV_HELP = "simulator: metaworld (needs --tasks), pusht (gym-pusht's PushT, one task) or libero (needs --suite)"
DEFAULTS_HELP = "None = the env's ({})"


def _tasks(text: str) -> list[str]:
    return [task.strip() for task in text.split(",") if task.strip()]


def register(subparsers) -> None:
    vla = subparsers.add_parser("vla", help="VLA policy: MetaWorld/PushT demonstrations and evaluation")
    commands = vla.add_subparsers(dest="vla_command", required=True, metavar="ACTION")
    formatter = argparse.ArgumentDefaultsHelpFormatter

    demos = commands.add_parser("demos", help="record scripted-expert episodes into a LeRobotDataset (resumes)",
                                formatter_class=formatter)
    demos.add_argument("--env", choices=ENV_NAMES, default="metaworld", help=ENV_HELP)
    demos.add_argument("--tasks", type=_tasks, help="comma-separated MetaWorld v3 tasks (--env metaworld only)")
    demos.add_argument("--suite", help="LIBERO suite, every task of it (--env libero; or --tasks libero_spatial/0,...)")
    demos.add_argument("--episodes", type=int, required=True,
                       help="episodes per task (seeds S..S+N-1; LIBERO: its official initial states S..S+N-1)")
    demos.add_argument("--seed-start", type=int, default=0,
                       help="first seed S (LIBERO: 10 keeps the states lerobot-eval scores, 0..9, out of the demos)")
    demos.add_argument("--root", required=True, help="dataset folder (lerobot-train --dataset.root)")
    demos.add_argument("--image-size", type=int, default=96, help="square RGB and depth frames, pixels")
    demos.add_argument("--camera", help="camera; " + DEFAULTS_HELP.format("metaworld: corner4, pusht: top"))
    demos.add_argument("--max-steps", type=int, help="steps per episode at most; " + DEFAULTS_HELP.format("metaworld: 200, pusht: 300"))
    demos.add_argument("--repo-id", help="dataset repo id (lerobot-train --dataset.repo_id); None = local/<env>_ma_vla")
    demos.add_argument("--no-depth", dest="with_depth", action="store_false",
                       help="record no observation.depth.<camera> (LeRobot's stock ACT/Diffusion/VQBeT take RGB only; "
                            "ma_vla then trains without depth distillation)")
    demos.set_defaults(func=_demos)

    evaluate = commands.add_parser("eval", help="success rate per task, latency and GIFs of a trained policy",
                                   formatter_class=formatter)
    evaluate.add_argument("--policy", required=True, help="a pretrained_model folder written by lerobot-train")
    evaluate.add_argument("--env", choices=ENV_NAMES, default="metaworld", help=ENV_HELP)
    evaluate.add_argument("--tasks", type=_tasks, help="comma-separated MetaWorld v3 tasks (--env metaworld only)")
    evaluate.add_argument("--episodes", type=int, default=10, help="episodes per task")
    evaluate.add_argument("--seed-start", type=int, default=1000, help="first scene seed (demos use 0..N-1)")
    evaluate.add_argument("--max-steps", type=int, help="steps per episode at most; " + DEFAULTS_HELP.format("metaworld: 120, pusht: 300"))
    evaluate.add_argument("--gifs", type=int, default=2, help="GIFs per task")
    evaluate.add_argument("--output", required=True, help="folder for results.json and GIFs")
    evaluate.set_defaults(func=_eval)

    table = commands.add_parser("table", help="markdown ablation table from several eval folders")
    table.add_argument("--run", action="append", required=True, help="NAME=EVAL_DIR (repeat)")
    table.add_argument("--output", required=True, help="markdown file")
    table.set_defaults(func=_table)


def _demos(args) -> int:
    from ma_vlm.errors import MaVlmInputError
    from ma_vlm.vla.demos import record_demos

    if args.image_size < 8 or (args.max_steps is not None and args.max_steps < 1):
        raise MaVlmInputError(f"--image-size {args.image_size} / --max-steps {args.max_steps}: give an image of at "
                              "least 8 px and at least 1 step")

    tasks = args.tasks or ([args.suite] if args.suite else None)
    root = record_demos(tasks, args.episodes, args.root, image_size=args.image_size, camera=args.camera,
                        max_episode_steps=args.max_steps, repo_id=args.repo_id, env=args.env,
                        with_depth=args.with_depth, seed_start=args.seed_start)
    print(f"dataset: {root}")
    return 0


def _eval(args) -> int:
    import json

    from ma_vlm.errors import MaVlmInputError
    from ma_vlm.model_folders import VLA_POLICY, check_model_folder
    from ma_vlm.vla.environments import env_class
    from ma_vlm.vla.evaluate import evaluate

    if args.episodes < 1 or (args.max_steps is not None and args.max_steps < 1) or args.gifs < 0:
        raise MaVlmInputError(f"--episodes {args.episodes} / --max-steps {args.max_steps} / --gifs {args.gifs}: "
                              "give at least 1 episode of at least 1 step (a success rate of 0 episodes is undefined)")
    if args.env == "libero":
        raise MaVlmInputError("LIBERO policies are scored by LeRobot's loop on the official initial states: "
                              "lerobot-eval --env.type=ma_libero --env.task=libero_spatial --policy.path=...")
    env_class(args.env).check_tasks(list(args.tasks or []))  # the cheaper mistake first
    check_model_folder(args.policy, "--policy", VLA_POLICY)
    results = evaluate(args.policy, args.tasks, args.episodes, args.output, seed_start=args.seed_start,
                       max_steps=args.max_steps, gifs_per_task=args.gifs, env=args.env)
    summary = {"success_rate": {task: value["success_rate"] for task, value in results["tasks"].items()}}
    coverage = {task: value["mean_max_coverage"] for task, value in results["tasks"].items() if "mean_max_coverage" in value}
    if coverage:
        summary["mean_max_coverage"] = coverage
    print(json.dumps({**summary, "ms_per_chunk": results["latency_ms_per_chunk"],
                      "ms_per_action": results["latency_ms_per_action"]}, indent=2))
    return 0


def _table(args) -> int:
    from pathlib import Path

    from ma_vlm.errors import MaVlmInputError
    from ma_vlm.vla.evaluate import ablation_table

    if Path(args.output).is_dir():
        raise MaVlmInputError(f"--output {args.output} is a folder; give the markdown file to write, e.g. "
                              f"{Path(args.output) / 'table.md'}")
    runs = {}
    for item in args.run:
        if "=" not in item:
            raise MaVlmInputError(f"--run takes NAME=EVAL_DIR, got {item!r}")
        name, path = item.split("=", 1)
        runs[name] = path
    print(ablation_table(runs, args.output))
    return 0
