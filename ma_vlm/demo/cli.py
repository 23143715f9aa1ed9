"""``ma-vlm demo``: run every capability at a chosen budget and write a report.

    ma-vlm demo [--output outputs/demo] [--budget small|medium|tiny|FILE.yaml] [--from STAGE] [--checkpoint PT]
"""

from __future__ import annotations

import argparse

STAGE_NAMES = ("data", "pretrain", "depth-eval", "depth", "intrinsics", "spatial-mllm", "vla", "report")


def register(subparsers) -> None:
    demo = subparsers.add_parser(
        "demo", help="run the whole pipeline end to end and write report.md / report.html",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Stages: " + ", ".join(STAGE_NAMES) + ". A re-run skips finished stages; "
                    "--from STAGE runs that stage and the later ones again.",
    )
    demo.add_argument("--output", default="outputs/demo", help="run folder")
    demo.add_argument("--budget", default="small",
                      help="tiny (the test's, seconds), small (7 min on 2 cores), medium (32 min), or a YAML file "
                           "shaped like recipes/demo/small.yaml")
    demo.add_argument("--from", dest="from_stage", default=None, choices=STAGE_NAMES, metavar="STAGE",
                      help="restart from this stage: " + ", ".join(STAGE_NAMES))
    demo.add_argument("--checkpoint", default=None,
                      help="an official student_depthmap.pt: stage `depth` also converts it and runs it on the images")
    demo.set_defaults(func=_demo)


def _demo(args) -> int:
    from ma_vlm.demo.runner import run_demo

    return run_demo(args.output, args.budget, args.from_stage, args.checkpoint)
