"""`ma-vlm demo --budget tiny` end to end: every stage whose commands are installed really runs (tiny
data and models, one or two optimisation steps), the others say why they did not, and both reports
hold every section. Then a re-run skips everything and `--from report` redoes only the last stage.

The demo runs from an installed copy of the package (built like a wheel, in another working
folder), so it needs nothing of the checkout: its budgets, recipes and example photos come as
package data. The budget is recipes/demo/tiny.yaml with one change: the MLLM stage trains the
random 2-layer Llama of the tests (SmolLM2's tokenizer) instead of SmolLM2-135M, which would load
three times."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ma_vlm.cli import main
from ma_vlm.demo.report import SECTIONS
from ma_vlm.demo.runner import read_marker
from ma_vlm.demo.stages import STAGES


@pytest.fixture(scope="module")
def budget(tmp_path_factory, tiny_llm_folder):
    import yaml

    from ma_vlm.demo.budget import budget_path, repo_path

    folder = tmp_path_factory.mktemp("budget")
    values = yaml.safe_load(budget_path("tiny").read_text())
    recipe = yaml.safe_load(repo_path(values["mllm"]["recipe"]).read_text())
    recipe["model"]["llm"] = tiny_llm_folder
    (folder / "mllm.yaml").write_text(yaml.safe_dump(recipe))
    values["mllm"]["recipe"] = str(folder / "mllm.yaml")
    (folder / "tiny_test.yaml").write_text(yaml.safe_dump(values))
    return str(folder / "tiny_test.yaml")


REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """`uv pip install --no-deps --target DIR .`: the package as a wheel installs it, outside the checkout."""
    uv = shutil.which("uv") or shutil.which("uv", path=os.path.dirname(sys.executable))
    if uv is None:
        pytest.fail("the installed-package demo test needs uv (make setup installs it)")
    source, target = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("site")
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):  # a copy: the build writes build/
        shutil.copy(REPO / name, source / name)
    for name in ("ma_vlm", "recipes", "examples"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    build = subprocess.run([uv, "pip", "install", "--quiet", "--no-deps", "--python", sys.executable, "--target",
                            str(target), str(source)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    return target


def run_installed(installed, cwd, *argv):
    env = {**os.environ, "PYTHONPATH": str(installed)}
    code = "import sys; from ma_vlm.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *argv], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=1200)


def test_the_installed_package_ships_its_budgets_recipes_and_photos(installed, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(installed)}
    probe = ("import ma_vlm, ma_vlm.demo.budget as b, ma_vlm.demo.stages as s; print(ma_vlm.__file__); "
             "print(b.load_budget('tiny')['path']); print(b.repo_path('recipes/mllm_lora_tiny.yaml')); "
             "print(b.repo_path('examples/nyuv2_0.png'))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    paths = result.stdout.split()
    assert all(path.startswith(str(installed)) and Path(path).is_file() for path in paths), paths


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, budget, installed):
    folder = tmp_path_factory.mktemp("demo")
    elsewhere = tmp_path_factory.mktemp("elsewhere")  # not the checkout: nothing may be found through it
    result = run_installed(installed, elsewhere, "demo", "--budget", budget, "--output", str(folder))
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
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


def test_a_rerun_skips_finished_stages_and_from_restarts_there(run_dir, budget, capsys):
    before = {stage.name: read_marker(run_dir, stage.name) for stage in STAGES}
    capsys.readouterr()
    assert main(["demo", "--budget", budget, "--output", str(run_dir)]) == 0
    out = capsys.readouterr().out
    finished = [name for name, marker in before.items() if marker["status"] == "done"]
    assert out.count("finished earlier, skipped") == len(finished)
    assert "$ ma-vlm" not in out                              # no command ran again
    (run_dir / "report.html").unlink()
    assert main(["demo", "--budget", budget, "--output", str(run_dir), "--from", "report"]) == 0
    out = capsys.readouterr().out
    for stage in STAGES[:-1]:
        assert read_marker(run_dir, stage.name) == before[stage.name], stage.name  # untouched
    assert out.count("finished earlier, skipped") == len([name for name in finished if name != "report"])
    assert read_marker(run_dir, "report")["finished_at"] > before["report"]["finished_at"]  # written again
    assert (run_dir / "report.html").is_file()
