"""Which models the page finds and says it runs: pretrain-small's before the demo's, flags
first; a folder of the wrong kind is one line in the page; none at all names the command."""

import json
import shutil

import gradio as gr
import pytest

from ma_vlm.app.models import describe, discover
from ma_vlm.app.page import page_errors


def test_pretrain_small_comes_before_the_demo(tmp_path, app_model_folders):
    for run in ("outputs/pretrain-small/student", "outputs/pretrain-small/teacher"):
        shutil.copytree(app_model_folders["depth" if run.endswith("student") else "teacher"], tmp_path / run / "model")
    (tmp_path / "outputs/pretrain-small/student/summary.json").write_text(json.dumps({"step": 300, "last_loss": 0.25}))
    shutil.copytree(app_model_folders["depth"], tmp_path / "outputs/demo/student/model")
    shutil.copytree(app_model_folders["pointmap"], tmp_path / "outputs/demo/pointmap")
    (tmp_path / "outputs/demo/models.json").write_text(json.dumps({"student": "outputs/demo/student/model",
                                                                   "teacher": "outputs/demo/student/model"}))
    choices = discover({}, tmp_path)
    assert choices["depth"].origin.startswith("`make pretrain-small`")
    assert choices["depth"].trained_on == "300 steps run, final loss 0.250"
    assert choices["pointmap"].origin.startswith("`make demo`") and choices["mllm"].folder is None
    assert "Spatial chat tab | **none found**: run `make demo`" in describe(choices)
    flagged = discover({"depth": str(app_model_folders["teacher"])}, tmp_path)
    assert flagged["depth"].origin == f"--model {app_model_folders['teacher']}"


def test_a_folder_of_the_wrong_kind_is_a_line_in_the_page(tmp_path, app_model_folders):
    from ma_vlm.app.cli import start_page
    from ma_vlm.app.depth_tab import run

    page, state = start_page({"depth": str(app_model_folders["pointmap"]), "teacher": str(app_model_folders["depth"])},
                             root=str(tmp_path))
    text = describe(state.models)
    assert "'metric_anything_pointmap' model; this needs a Metric Anything depth model" in text
    assert "prompt-free depth model; the Completion tab needs a teacher" in text
    with pytest.raises(gr.Error, match="--model .* is a 'metric_anything_pointmap' model"):
        page_errors(run)(state, "photo.png", None, "60")
    page.close()


def test_no_model_names_the_command_that_makes_them(tmp_path):
    text = describe(discover({}, tmp_path))
    assert "No model found in this checkout. **`make demo`** makes every one of them" in text
