"""The check every command makes on a model folder before loading it."""

import json

import pytest
import torch
from safetensors.torch import save_file

from ma_vlm.errors import MaVlmInputError
from ma_vlm.model_folders import DEPTH_MODEL, IMAGE_TEXT_MODEL, check_model_folder, safetensors_problem


def make_folder(root, model_type="metric_anything"):
    root.mkdir()
    (root / "config.json").write_text(json.dumps({"model_type": model_type}))
    save_file({"weight": torch.ones(4, 4)}, str(root / "model.safetensors"))
    return root


def test_a_complete_folder_passes_and_a_cut_file_is_named(tmp_path):
    folder = make_folder(tmp_path / "model")
    assert safetensors_problem(folder / "model.safetensors") is None
    assert check_model_folder(folder, "--model", DEPTH_MODEL) == str(folder)
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[:-10])
    with pytest.raises(MaVlmInputError, match=r"model.safetensors is incomplete or damaged \(it is cut off"):
        check_model_folder(folder, "--model", DEPTH_MODEL)


def test_wrong_kind_names_the_command_that_makes_the_right_one(tmp_path):
    folder = make_folder(tmp_path / "depth")
    with pytest.raises(MaVlmInputError, match="is a 'metric_anything' model; this needs an image-text-to-text model "
                                              r"\(`ma-vlm train mllm`"):
        check_model_folder(folder, "--model", IMAGE_TEXT_MODEL)
    assert check_model_folder(make_folder(tmp_path / "llava", "llava"), "--model", IMAGE_TEXT_MODEL)


def test_missing_local_paths_never_go_to_the_hub_but_hub_ids_pass(tmp_path):
    with pytest.raises(MaVlmInputError, match="not found"):
        check_model_folder("./runs/modle", "--model", DEPTH_MODEL)
    with pytest.raises(MaVlmInputError, match="no such folder"):
        check_model_folder("org/name", "--teacher", DEPTH_MODEL, hub=False)
    assert check_model_folder("org/name", "--model", DEPTH_MODEL) == "org/name"
