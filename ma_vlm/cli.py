"""The ``ma-vlm`` command.

Each capability folder owns its sub-commands in its own ``cli.py`` with a ``register(subparsers)``
function; this file only wires them together, so adding a command never touches another folder.
Modules are imported at start-up but keep heavy imports (torch, transformers) inside the
handlers so ``ma-vlm --help`` stays fast; `import ma_vlm` itself is light (``ma_vlm.registration``).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ma_vlm.errors import MaVlmInputError

# Top-level commands (``ma-vlm convert``, ``ma-vlm depth``, ``ma-vlm pretrain`` ...).
COMMAND_MODULES = [
    "ma_vlm.encoders.cli",
    "ma_vlm.data.cli",
    "ma_vlm.pretrain.cli",
    "ma_vlm.benchmarks.cli",  # ``ma-vlm eval`` and all its benchmark sub-commands
    "ma_vlm.mllm.cli",
]


def _register_all(subparsers, module_names: list[str]) -> None:
    for name in module_names:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            # Skip a capability that is not installed or built; a missing dependency *inside* it
            # (error.name elsewhere) is a real error and surfaces.
            if error.name is not None and (name == error.name or name.startswith(error.name + ".")):
                continue
            raise
        module.register(subparsers)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ma-vlm", description="Metric Anything for Transformers, MLLMs and VLAs."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _register_all(commands, COMMAND_MODULES)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MaVlmInputError as error:
        print(f"ma-vlm: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
