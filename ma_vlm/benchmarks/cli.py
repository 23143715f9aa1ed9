"""``ma-vlm eval``: every benchmark family's sub-commands, assembled in this one place.

Each family (``depth/``, ``spatial/``; VLA evaluation joins the same way) owns a ``cli.py`` with
``register(eval_subparsers)``; adding a family is one line in ``EVAL_COMMAND_MODULES``. Those
modules keep torch/transformers imports inside their handlers so ``ma-vlm --help`` stays fast.
"""

from __future__ import annotations

from importlib import import_module

# ``spatial``: score, spatial, synthspatial; ``depth``: depth.
EVAL_COMMAND_MODULES = [
    "ma_vlm.benchmarks.spatial.cli",
    "ma_vlm.benchmarks.depth.cli",
]


def register(subparsers) -> None:
    eval_parser = subparsers.add_parser("eval", help="evaluate and score benchmarks")
    eval_commands = eval_parser.add_subparsers(dest="eval_command", required=True, metavar="BENCH")
    for name in EVAL_COMMAND_MODULES:
        import_module(name).register(eval_commands)
