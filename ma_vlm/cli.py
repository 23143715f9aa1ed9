"""The ``ma-vlm`` command.

Each capability folder owns its sub-commands in its own ``cli.py`` with a ``register(subparsers)``
function; this file only wires them together, so adding a command never touches another folder.
Modules are imported at start-up but keep heavy imports (torch, transformers) inside the
handlers so ``ma-vlm --help`` stays fast; `import ma_vlm` itself is light (``ma_vlm.registration``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ma_vlm.errors import user_error_message

# Top-level commands (``ma-vlm convert``, ``ma-vlm depth``, ``ma-vlm pretrain`` ...).
COMMAND_MODULES = [
    "ma_vlm.depth.cli",
    "ma_vlm.data.cli",
    "ma_vlm.pretrain.cli",
    "ma_vlm.pointmap.cli",
    "ma_vlm.vla.cli",
    "ma_vlm.benchmarks.cli",  # ``ma-vlm eval`` and all its benchmark sub-commands
    "ma_vlm.mllm.cli",
    "ma_vlm.demo.cli",
    "ma_vlm.app.cli",  # ``ma-vlm app``: the web page
    "ma_vlm.export.cli",  # ``ma-vlm export onnx``
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
        prog="ma-vlm", description="Metric Anything for Transformers, MLLMs and VLAs.",
        epilog="Bad input ends with one line naming the input and the fix, and exit code 2; "
               "--debug (anywhere on the line) or MA_VLM_DEBUG=1 shows the Python traceback instead.",
    )
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks of errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _register_all(commands, COMMAND_MODULES)
    return parser


def quiet_deepspeed_probe() -> None:
    """Drop DeepSpeed's "Setting accelerator to CPU" warning outside DeepSpeed runs.

    Where DeepSpeed is installed, every `save_pretrained` imports it (accelerate's
    `extract_model_from_parallel` checks for a DeepSpeed engine), and on a machine without a GPU
    its import logs that warning: a conversion or a depth map would print it although nobody
    asked for DeepSpeed. Under `accelerate launch` with DeepSpeed it stays. A logging filter,
    because DeepSpeed sets its logger's level when it creates it."""
    import logging

    if os.environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() == "true":
        return
    deepspeed_logger = logging.getLogger("DeepSpeed")
    if not any(isinstance(f, _DeepSpeedProbeFilter) for f in deepspeed_logger.filters):
        deepspeed_logger.addFilter(_DeepSpeedProbeFilter())


class _DeepSpeedProbeFilter:
    def filter(self, record) -> bool:
        return not str(record.msg).startswith("Setting accelerator to CPU")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    quiet_deepspeed_probe()
    debug = "--debug" in argv or os.environ.get("MA_VLM_DEBUG", "") not in ("", "0")
    argv = [arg for arg in argv if arg != "--debug"]  # accepted after the command too
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        if debug:
            raise
        print("ma-vlm: interrupted (finished files are complete; re-running resumes where the command "
              "supports it)", file=sys.stderr)
        return 130
    except Exception as error:
        message = user_error_message(error)
        if message is None or debug:
            raise
        print(f"ma-vlm: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
