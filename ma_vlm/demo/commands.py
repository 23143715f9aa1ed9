"""The demo runs the project's own commands: `ma-vlm ...` in this process (torch and transformers
load once for the whole demo instead of once per command) and console scripts such as
`lerobot-train` as subprocesses. A command the installed parser does not know is "not available",
and its stage is reported as not run.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Command:
    """One command line: `argv` after `ma-vlm` (program "ma-vlm") or a console script's argv."""

    argv: list[str]
    program: str = "ma-vlm"
    env: dict[str, str] = field(default_factory=dict)
    capture: Path | None = None   # also write what the command prints here (e.g. a chat answer for the report)

    def __str__(self) -> str:
        words = [self.program, *self.argv] if self.program == "ma-vlm" else list(self.argv)
        prefix = " ".join(f"{key}={shlex.quote(value)}" for key, value in self.env.items())
        return (prefix + " " if prefix else "") + " ".join(shlex.quote(_shown(word)) for word in words)


def _shown(word) -> str:
    """Paths under the working folder are shown relative to it, so a printed command can be pasted."""
    if isinstance(word, Path) and word.is_absolute() and word.is_relative_to(Path.cwd()):
        return str(word.relative_to(Path.cwd())) or "."
    return str(word)


class CommandFailed(RuntimeError):
    def __init__(self, command: Command, code: int):
        super().__init__(f"`{command}` exited with status {code}")
        self.command, self.code = command, code


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse has no public accessor for sub-commands
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


@functools.lru_cache(maxsize=1)
def _root_parser() -> argparse.ArgumentParser:
    from ma_vlm.cli import build_parser

    return build_parser()


def find_parser(words: list[str]) -> argparse.ArgumentParser | None:
    """The parser of `ma-vlm WORD WORD ...` (e.g. ["vla", "demos"]), or None when not installed."""
    parser = _root_parser()
    for word in words:
        parser = _subparsers(parser).get(word)
        if parser is None:
            return None
    return parser


def option_help(words: list[str], option: str) -> str:
    """The help text of `ma-vlm WORDS OPTION` ("" when the command or option is not installed): lets a
    stage use a value a newer command documents (e.g. `--model baseline:median_oracle`)."""
    parser = find_parser(words)
    action = parser._option_string_actions.get(option) if parser is not None else None
    return (action.help or "") if action is not None else ""


def console_script(name: str) -> str | None:
    """Path of a console script installed beside this Python (the venv's bin/), else on PATH."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.is_file() else shutil.which(name)


def unavailable(command: Command) -> str | None:
    """`"ma-vlm vla demos"` / `"lerobot-train"` when the command is not installed, else None."""
    if command.program != "ma-vlm":
        return None if console_script(command.argv[0]) else command.argv[0]
    parser, words = _root_parser(), []
    for word in command.argv:  # descend through sub-commands (`eval depth`, `vla demos`)
        choices = _subparsers(parser)
        if not choices:
            return None
        words.append(word)
        parser = choices.get(word)
        if parser is None:
            return "ma-vlm " + " ".join(words)
    return None


def missing_commands(commands: list[Command]) -> list[str]:
    """The commands among `commands` that are not installed, each named once."""
    return list(dict.fromkeys(name for name in map(unavailable, commands) if name))


class _Tee(io.TextIOBase):
    def __init__(self, *streams):
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


def _main_captured(command: Command) -> int:
    """`ma-vlm ARGV` in this process, its stdout shown and saved to `command.capture`."""
    from ma_vlm.atomic_io import write_text_atomic
    from ma_vlm.cli import main

    buffer = io.StringIO()
    with contextlib.redirect_stdout(_Tee(sys.stdout, buffer)):
        code = main([str(word) for word in command.argv])
    write_text_atomic(command.capture, buffer.getvalue())
    return code


def _run_subprocess(argv: list[str], env: dict, capture: Path | None) -> int:
    """Run a console script; with `capture`, its output is shown line by line and saved there."""
    if capture is None:
        return subprocess.run(argv, env=env, check=False).returncode
    from ma_vlm.atomic_io import write_text_atomic

    lines = []
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        for line in process.stdout:
            sys.stdout.write(line)
            lines.append(line)
    write_text_atomic(capture, "".join(lines))
    return process.returncode


def run_command(command: Command) -> None:
    """Run one command, printing it first; raise CommandFailed on a non-zero exit."""
    print(f"  $ {command}", flush=True)
    if command.program == "ma-vlm":
        from ma_vlm.cli import main

        saved = {key: os.environ.get(key) for key in command.env}
        os.environ.update(command.env)
        try:
            if command.capture is None:
                code = main([str(word) for word in command.argv])
            else:
                code = _main_captured(command)
        except SystemExit as exit_:  # argparse errors exit 2
            code = exit_.code if isinstance(exit_.code, int) else 1
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    else:
        argv = [console_script(command.argv[0]) or command.argv[0], *map(str, command.argv[1:])]
        code = _run_subprocess(argv, {**os.environ, **command.env}, command.capture)
    if code:
        raise CommandFailed(command, code)
