"""Run the demo's stages in order, skipping finished ones.

A stage is finished when its marker `RUN/stages/<name>.json` says `"status": "done"`; the marker
is written last and atomically, so an interrupted stage has none and runs again (the commands
themselves resume: `ma-vlm pretrain` from its last checkpoint). A stage whose command is not
installed gets a `"not_run"` marker with the reason and is tried again on the next run.
`--from STAGE` removes that stage's and the later stages' markers and outputs first.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

from ma_vlm.atomic_io import write_json_atomic
from ma_vlm.demo.budget import load_budget
from ma_vlm.demo.commands import Command, CommandFailed, missing_commands, run_command
from ma_vlm.demo.stages import STAGES, Context
from ma_vlm.errors import MaVlmInputError


def marker_path(run_dir: Path, stage_name: str) -> Path:
    return run_dir / "stages" / f"{stage_name}.json"


def read_marker(run_dir: Path, stage_name: str) -> dict | None:
    path = marker_path(run_dir, stage_name)
    return json.loads(path.read_text()) if path.is_file() else None


def is_finished(run_dir: Path, stage_name: str) -> bool:
    marker = read_marker(run_dir, stage_name)
    return marker is not None and marker.get("status") == "done"


def _check_budget(run_dir: Path, budget: dict) -> None:
    """A run folder keeps one budget: mixing a tiny teacher with a small evaluation would mislead."""
    path = run_dir / "demo.json"
    if path.is_file():
        previous = json.loads(path.read_text())["budget"]
        if previous != budget["name"]:
            raise MaVlmInputError(f"{run_dir} was made with --budget {previous}; use that budget, another "
                                  f"--output, or `--from data` to start it again with --budget {budget['name']}")
    write_json_atomic(path, {"budget": budget["name"], "budget_file": budget["path"]})


def _restart_from(run_dir: Path, stage_name: str) -> None:
    names = [stage.name for stage in STAGES]
    for stage in STAGES[names.index(stage_name):]:
        marker_path(run_dir, stage.name).unlink(missing_ok=True)
        for entry in stage.outputs:
            target = run_dir / entry
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()


def run_demo(output: str | Path, budget_name: str = "small", from_stage: str | None = None,
             checkpoint: str | None = None) -> int:
    """Run (or finish) the demo in `output`; returns the exit status (0, or 1 when a command failed;
    a command that refused its input raises `MaVlmInputError`, exit 2)."""
    budget = load_budget(budget_name)
    run_dir = Path(output)
    run_dir.mkdir(parents=True, exist_ok=True)
    names = [stage.name for stage in STAGES]
    if from_stage is not None and from_stage not in names:
        raise MaVlmInputError(f"--from {from_stage}: choose one of {', '.join(names)}")
    if from_stage == names[0]:  # everything restarts: the folder may take another budget
        (run_dir / "demo.json").unlink(missing_ok=True)
    _check_budget(run_dir, budget)  # before --from deletes anything
    if from_stage is not None:
        _restart_from(run_dir, from_stage)
    context = Context(run_dir, budget, checkpoint)
    started = time.perf_counter()
    ran_any = False
    for number, stage in enumerate(STAGES, 1):
        header = f"[{number}/{len(STAGES)}] {stage.name}: {stage.title}"
        if is_finished(run_dir, stage.name) and not (stage.name == "report" and ran_any):
            print(f"{header} -- finished earlier, skipped", flush=True)
            continue
        print(f"\n{header}", flush=True)
        steps = stage.build(context)
        missing = missing_commands([s for s in steps if isinstance(s, Command)])
        missing += stage.unmet(context)
        if missing:
            reason = f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not available"
            print(f"  not run: {reason}", flush=True)
            write_json_atomic(marker_path(run_dir, stage.name), {
                "stage": stage.name, "status": "not_run", "reason": reason,
                "commands": [str(step) for step in steps]})
            continue
        stage_start = time.perf_counter()
        try:
            for index, step in enumerate(steps, 1):
                print(f"  step {index}/{len(steps)}", flush=True)
                if isinstance(step, Command):
                    run_command(step)
                else:
                    print(f"  {step}", flush=True)
                    step.run()
        except CommandFailed as error:
            rerun = f"`ma-vlm demo --output {run_dir} --budget {budget['name']}`"
            if error.code == 2:  # the command refused its input (its one-line reason is printed above)
                raise MaVlmInputError(f"stage {stage.name}: {error} on bad input (see its message above); fix it and "
                                      f"run {rerun} again: finished stages are skipped") from None
            print(f"\nma-vlm demo: stage {stage.name} failed: {error}. Fix it and run {rerun} again: finished "
                  "stages are skipped.", flush=True)
            return 1
        seconds = time.perf_counter() - stage_start
        ran_any = True
        write_json_atomic(marker_path(run_dir, stage.name), {
            "stage": stage.name, "status": "done", "seconds": round(seconds, 1),
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
            "commands": [str(step) for step in steps]})
        print(f"  done in {seconds:.1f} s", flush=True)
    print(f"\ndemo finished in {time.perf_counter() - started:.0f} s: {run_dir / 'report.html'} "
          f"and {run_dir / 'report.md'}", flush=True)
    return 0
