"""No command runs code from a model folder, and none asks whether it may.

A folder whose config names Python code (`auto_map`, as a Hub repo with custom code has) is
handed to every command that takes a model, teacher, tower or LLM, with `y` answers waiting on
standard input: each command refuses in one line, exit 2, and the folder's code never runs.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ma_vlm.cli import main

MARKER = "custom_code_ran.txt"


def write_custom_code_folder(folder: Path) -> Path:
    """A model folder whose code, if imported, writes MARKER beside it."""
    folder.mkdir(parents=True)
    code = f"from pathlib import Path\nPath({str(folder / MARKER)!r}).write_text('ran')\n"
    (folder / "custom_modeling.py").write_text(code + "from transformers import PretrainedConfig, PreTrainedModel\n"
                                               "class CustomConfig(PretrainedConfig):\n    model_type = 'custom_x'\n"
                                               "class CustomModel(PreTrainedModel):\n    config_class = CustomConfig\n")
    auto_map = {name: f"custom_modeling.{cls}" for name, cls in [
        ("AutoConfig", "CustomConfig"), ("AutoModel", "CustomModel"), ("AutoModelForCausalLM", "CustomModel"),
        ("AutoModelForImageTextToText", "CustomModel"), ("AutoModelForDepthEstimation", "CustomModel"),
        ("AutoProcessor", "CustomModel"), ("AutoImageProcessor", "CustomModel")]}
    (folder / "config.json").write_text(json.dumps({"model_type": "custom_x", "auto_map": auto_map}))
    (folder / "tokenizer_config.json").write_text(json.dumps({"auto_map": {"AutoTokenizer": ["custom_modeling.X", None]}}))
    return folder


def _mllm_recipe(root: Path, **model) -> str:
    (root / "train.jsonl").write_text(json.dumps({"id": "0", "conversations": [
        {"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}) + "\n")
    recipe = {"model": {"llm": "smollm2", "tower": None, "tower_preset": "tiny", **model},
              "data": {"train": str(root / "train.jsonl")}, "train": {"max_steps": 1, "use_cpu": True}}
    (root / "mllm.yaml").write_text(yaml.safe_dump(recipe))
    return str(root / "mllm.yaml")


def _depth_recipe(root: Path, **model) -> str:
    recipe = {"model": {"preset": "tiny", **model}, "data": {"path": str(root / "rgbd")},
              "train": {"max_steps": 1, "batch_size": 1}}
    (root / "depth.yaml").write_text(yaml.safe_dump(recipe))
    return str(root / "depth.yaml")


COMMANDS = {
    "chat --model": lambda r, f: ["chat", "--model", f, "how far is the chair?"],
    "eval spatial --model": lambda r, f: ["eval", "spatial", "--model", f, "--benchmark", "synthspatial",
                                          "--data", str(r), "--output", str(r / "out.json")],
    "train mllm model.llm": lambda r, f: ["train", "mllm", "--recipe", _mllm_recipe(r, llm=f), "--output",
                                          str(r / "run")],
    "train mllm model.tower": lambda r, f: ["train", "mllm", "--recipe", _mllm_recipe(r, tower=f), "--output",
                                            str(r / "run")],
    "depth --model": lambda r, f: ["depth", str(r / "photo.png"), "--model", f, "--focal-length-px", "50",
                                   "--output", str(r / "out")],
    "eval depth --model": lambda r, f: ["eval", "depth", "--model", f, "--data", str(r / "depth_data"), "--output",
                                        str(r / "report.json")],
    "intrinsics --model": lambda r, f: ["intrinsics", str(r / "photo.png"), "--model", f],
    "reconstruct --model": lambda r, f: ["reconstruct", str(r / "photo.png"), "--model", f, "--output",
                                         str(r / "cloud")],
    "distill --teacher": lambda r, f: ["distill", "--recipe", _depth_recipe(r, init_from="teacher"), "--teacher", f,
                                       "--output", str(r / "run")],
    "pretrain model.init_from": lambda r, f: ["pretrain", "--recipe", _depth_recipe(r, init_from=f), "--output",
                                              str(r / "run")],
    "export onnx MODEL_DIR": lambda r, f: ["export", "onnx", f, str(r / "onnx")],
}


@pytest.fixture
def custom_code_folder(tmp_path, monkeypatch):
    import numpy as np
    from PIL import Image

    Image.new("RGB", (32, 24), (120, 90, 60)).save(tmp_path / "photo.png")
    (tmp_path / "depth_data").mkdir()  # an eval-depth folder: <stem>.png, <stem>_depth.png (mm), <stem>.json
    Image.new("RGB", (32, 24), (120, 90, 60)).save(tmp_path / "depth_data" / "a.png")
    Image.fromarray(np.full((24, 32), 2000, np.uint16)).save(tmp_path / "depth_data" / "a_depth.png")
    (tmp_path / "depth_data" / "a.json").write_text(json.dumps({"cam_in": [30, 30, 16, 12]}))
    monkeypatch.chdir(tmp_path)
    return write_custom_code_folder(tmp_path / "custom_model")


@pytest.mark.parametrize("command", COMMANDS, ids=str)
def test_a_folder_with_custom_code_is_refused_in_one_line(command, custom_code_folder, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n" * 20))  # every "run the custom code?" answered yes
    argv = COMMANDS[command](custom_code_folder.parent, str(custom_code_folder))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err)
    assert "needs custom code" in err[-1] and str(custom_code_folder) in err[-1], err[-3:]
    assert not (custom_code_folder / MARKER).exists()


def test_a_piped_yes_runs_nothing_in_a_real_shell(custom_code_folder):
    """The user's case as typed: `yes | ma-vlm chat --model FOLDER ...`."""
    result = subprocess.run([sys.executable, "-m", "ma_vlm.cli", "chat", "--model", str(custom_code_folder), "hi"],
                            input="y\n" * 20, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "needs custom code" in result.stderr and "[y/N]" not in result.stdout + result.stderr
    assert not (custom_code_folder / MARKER).exists()


def test_every_auto_load_of_the_package_refuses_remote_code():
    """Each Auto*/pipeline `from_pretrained` call in ma_vlm passes trust_remote_code=False."""
    import ast

    package = Path(__file__).resolve().parents[2] / "ma_vlm"
    missing = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "from_pretrained" and isinstance(node.func.value, ast.Name)
                    and node.func.value.id.startswith("Auto")):
                continue
            if not any(k.arg == "trust_remote_code" for k in node.keywords):
                missing.append(f"{path.relative_to(package.parent)}:{node.lineno}")
    assert missing == []
