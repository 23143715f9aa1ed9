"""`ma-vlm demo --budget tiny` end to end: every stage whose commands are installed really runs (tiny
data and models, one or two optimisation steps), the others say why they did not, and both reports
hold every section. Then a re-run skips everything and `--from depth` redoes only the last stages."""

import json
import re

import pytest

from ma_vlm.cli import main
from ma_vlm.demo.report import SECTIONS
from ma_vlm.demo.runner import read_marker
from ma_vlm.demo.stages import STAGES


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--budget", "tiny", "--output", str(folder)]) == 0
    return folder


def test_every_stage_either_finished_or_says_why_not(run_dir):
    for stage in STAGES:
        marker = read_marker(run_dir, stage.name)
        assert marker is not None, stage.name
        assert marker["status"] in ("done", "not_run"), marker
        if marker["status"] == "not_run":
            assert "not available" in marker["reason"]
    # The depth half exists on every checkout: it must really have run.
    for name in ("data", "pretrain", "depth-eval", "depth", "report"):
        assert read_marker(run_dir, name)["status"] == "done", name
    teacher_grid = json.loads((run_dir / "eval" / "teacher_grid_8.json").read_text())
    assert teacher_grid["num_images"] == 2 and teacher_grid["metrics"]["abs_rel"] > 0
    assert (run_dir / "eval" / "median_oracle_none.json").is_file()
    for stem in ("heldout_0", "nyuv2_0", "kitti_0"):
        assert (run_dir / "depth" / "student" / f"{stem}.ply").is_file()


def test_both_reports_hold_every_section_and_the_html_needs_no_other_file(run_dir):
    markdown = (run_dir / "report.md").read_text()
    page = (run_dir / "report.html").read_text()
    for title in SECTIONS:
        assert f"## {title}\n" in markdown
        assert f"<h2>{title}</h2>" in page
    assert "toy budget" in markdown
    assert "| teacher | grid:8 | 2 |" in markdown and "| median_oracle | none | 2 |" in markdown
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) >= 4 and all(source.startswith("data:image/") for source in sources)
    for picture in ("noisy_sources", "depth_loss", "depth_error", "real_photos", "point_cloud"):
        assert f"figures/{picture}.png" in markdown
    for stage in STAGES:
        if read_marker(run_dir, stage.name)["status"] == "not_run":
            assert read_marker(run_dir, stage.name)["reason"] in markdown


def test_a_rerun_skips_finished_stages_and_from_restarts_there(run_dir, capsys):
    before = {stage.name: read_marker(run_dir, stage.name) for stage in STAGES}
    capsys.readouterr()
    assert main(["demo", "--budget", "tiny", "--output", str(run_dir)]) == 0
    out = capsys.readouterr().out
    finished = [name for name, marker in before.items() if marker["status"] == "done"]
    assert out.count("finished earlier, skipped") == len(finished)
    assert "$ ma-vlm" not in out                              # no command ran again
    assert main(["demo", "--budget", "tiny", "--output", str(run_dir), "--from", "depth"]) == 0
    out = capsys.readouterr().out
    for name in ("data", "pretrain", "depth-eval"):
        assert read_marker(run_dir, name) == before[name]     # untouched
    assert "$ ma-vlm depth" in out and "$ ma-vlm pretrain --" not in out  # pretrain-pointmap (a later stage) reruns
    assert (run_dir / "report.html").is_file() and (run_dir / "depth" / "student" / "kitti_0.png").is_file()
