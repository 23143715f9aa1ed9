"""The demo's bookkeeping, on stand-in stages (no training): finished stages are skipped, `--from`
restarts, a missing command is reported as not run, a failing command stops the demo."""

import json

import pytest

from ma_vlm.demo import runner
from ma_vlm.demo.budget import load_budget
from ma_vlm.demo.commands import Command, missing_commands
from ma_vlm.demo.stages import STAGES, Glue, Stage
from ma_vlm.errors import MaVlmInputError


def _counting_stage(name, calls):
    def build(context):
        def work():
            calls.append(name)
            (context.run_dir / f"{name}.txt").write_text(name)
        return [Glue(f"write {name}.txt", work)]
    return Stage(name, f"stage {name}", build, (f"{name}.txt",))


@pytest.fixture
def fake_stages(monkeypatch):
    calls = []
    stages = [_counting_stage(name, calls) for name in ("a", "b", "c")]
    monkeypatch.setattr(runner, "STAGES", stages)
    return calls


def test_a_rerun_skips_finished_stages_and_from_restarts_there(tmp_path, fake_stages, capsys):
    assert runner.run_demo(tmp_path, "tiny") == 0
    assert fake_stages == ["a", "b", "c"]
    assert runner.run_demo(tmp_path, "tiny") == 0
    assert fake_stages == ["a", "b", "c"]                 # nothing ran again
    assert capsys.readouterr().out.count("finished earlier, skipped") == 3
    assert runner.run_demo(tmp_path, "tiny", from_stage="b") == 0
    assert fake_stages == ["a", "b", "c", "b", "c"]       # b and the stages after it


def test_an_interrupted_stage_has_no_marker_and_runs_again(tmp_path, fake_stages):
    runner.run_demo(tmp_path, "tiny")
    runner.marker_path(tmp_path, "c").unlink()           # as if killed before its marker was written
    runner.run_demo(tmp_path, "tiny")
    assert fake_stages == ["a", "b", "c", "c"]


def test_from_removes_the_outputs_of_the_restarted_stages(tmp_path, fake_stages):
    runner.run_demo(tmp_path, "tiny")
    (tmp_path / "c.txt").write_text("stale")
    runner._restart_from(tmp_path, "b")
    assert (tmp_path / "a.txt").exists() and not (tmp_path / "c.txt").exists()
    assert runner.is_finished(tmp_path, "a") and not runner.is_finished(tmp_path, "b")


def test_a_stage_whose_command_is_not_installed_is_reported_not_run(tmp_path, monkeypatch, capsys):
    stage = Stage("x", "needs a missing command", lambda context: [Command(["no-such-command", "--flag"])], ())
    monkeypatch.setattr(runner, "STAGES", [stage])
    assert runner.run_demo(tmp_path, "tiny") == 0
    marker = json.loads(runner.marker_path(tmp_path, "x").read_text())
    assert marker["status"] == "not_run" and "ma-vlm no-such-command is not available" in marker["reason"]
    assert not runner.is_finished(tmp_path, "x")          # tried again on the next run
    assert "not run: ma-vlm no-such-command is not available" in capsys.readouterr().out


def test_a_failing_command_stops_the_demo_without_a_marker(tmp_path, monkeypatch, capsys):
    # An unknown benchmark: `ma-vlm eval score` exits 2 with a one-line error (and loads no torch).
    stage = Stage("x", "fails", lambda context: [Command(["eval", "score", "--benchmark", "no-such-bench",
                                                         "--predictions", str(tmp_path / "p.jsonl"),
                                                         "--output", str(tmp_path / "s.json")])], ())
    monkeypatch.setattr(runner, "STAGES", [stage])
    with pytest.raises(MaVlmInputError, match="stage x: .*bad input"):  # `ma-vlm demo` exits 2, as the command did
        runner.run_demo(tmp_path, "tiny")
    assert runner.read_marker(tmp_path, "x") is None
    assert "no-such-bench" in capsys.readouterr().err


def test_a_command_that_crashes_stops_the_demo_with_status_1(tmp_path, monkeypatch, capsys):
    stage = Stage("x", "crashes", lambda context: [Command(["python3", "-c", "raise SystemExit(3)"], program="python3")], ())
    monkeypatch.setattr(runner, "STAGES", [stage])
    monkeypatch.setattr(runner, "missing_commands", lambda commands: [])
    assert runner.run_demo(tmp_path, "tiny") == 1
    assert runner.read_marker(tmp_path, "x") is None
    assert "stage x failed" in capsys.readouterr().out


def test_installed_and_missing_commands_are_told_apart():
    assert missing_commands([Command(["eval", "depth", "--model", "m"]), Command(["data", "generate"])]) == []
    assert missing_commands([Command(["eval", "no-such-bench"])]) == ["ma-vlm eval no-such-bench"]
    assert missing_commands([Command(["no-such-tool-xyz"], program="no-such-tool-xyz")]) == ["no-such-tool-xyz"]


def test_one_run_folder_keeps_one_budget_unless_it_restarts_from_the_first_stage(tmp_path, fake_stages):
    runner.run_demo(tmp_path, "tiny")
    with pytest.raises(MaVlmInputError, match="--budget tiny"):
        runner.run_demo(tmp_path, "small", from_stage="b")
    assert (tmp_path / "b.txt").exists()                  # refused before anything was removed
    assert runner.run_demo(tmp_path, "small", from_stage="a") == 0


def test_budgets_are_checked_and_the_cli_lists_every_stage(tmp_path):
    from ma_vlm.demo.cli import STAGE_NAMES

    assert STAGE_NAMES == tuple(stage.name for stage in STAGES)
    for name in ("tiny", "small", "medium"):
        assert load_budget(name)["name"] == name
    bad = tmp_path / "bad.yaml"
    tiny_text = open(load_budget("tiny")["path"]).read()
    bad.write_text(tiny_text.replace("teacher_steps: 2", "teacher_stpes: 2"))
    with pytest.raises(MaVlmInputError, match=r"teacher_stpes.*did you mean teacher_steps"):
        load_budget(str(bad))
    with pytest.raises(MaVlmInputError, match="--budget huge"):
        load_budget("huge")
