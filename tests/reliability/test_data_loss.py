"""The four ways a command used to lose or silently corrupt what a user gave it.

Each test failed before its fix: convert --overwrite deleted the folder holding the
checkpoint (or the whole current directory), `depth` wrote its colour map over the input photo,
two inputs with one stem shared their output files, and a render killed midway was reused as a
complete dataset.
"""

import shutil

import pytest
from reliability_helpers import snapshot, write_photo

from ma_vlm.cli import main


# ----------------------------------------------------------------------------- 1. convert --overwrite
def test_convert_overwrite_never_deletes_the_folder_holding_the_checkpoint(tmp_path, official_checkpoint, capsys):
    shutil.copy(official_checkpoint, tmp_path / "ckpt.pt")
    (tmp_path / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    code = main(["convert", str(tmp_path / "ckpt.pt"), str(tmp_path), "--overwrite"])
    assert code == 2
    assert "ckpt.pt" in capsys.readouterr().err
    assert snapshot(tmp_path) == before


def test_convert_overwrite_never_deletes_the_current_directory(tmp_path, official_checkpoint, monkeypatch, capsys):
    shutil.copy(official_checkpoint, tmp_path / "ckpt.pt")
    (tmp_path / "notes.txt").write_text("mine")
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    assert main(["convert", "ckpt.pt", ".", "--overwrite"]) == 2
    assert snapshot(tmp_path) == before
    assert "Traceback" not in capsys.readouterr().err


def test_convert_overwrite_keeps_files_it_did_not_write(tmp_path, official_checkpoint, capsys):
    output = tmp_path / "model"
    assert main(["convert", str(official_checkpoint), str(output)]) == 0
    (output / "notes.txt").write_text("mine")  # the user adds a file to a converted folder
    before = snapshot(output)
    assert main(["convert", str(official_checkpoint), str(output), "--overwrite"]) == 2
    assert "notes.txt" in capsys.readouterr().err
    assert snapshot(output) == before


def test_convert_overwrite_replaces_a_previous_conversion(tmp_path, official_checkpoint):
    output = tmp_path / "model"
    assert main(["convert", str(official_checkpoint), str(output)]) == 0
    assert main(["convert", str(official_checkpoint), str(output), "--overwrite", "--tap-layers", "1", "2", "3", "4"]) == 0
    assert '"tap_layers": [\n    1,' in (output / "config.json").read_text()


# ----------------------------------------------------------------------------- 2. depth over its input
def test_depth_never_overwrites_the_input_photo(tmp_path, tiny_model_dir, capsys):
    photo = write_photo(tmp_path / "photo.png")
    before = snapshot(tmp_path)
    code = main(["depth", str(photo), "--model", str(tiny_model_dir), "--output", str(tmp_path)])
    assert code == 2
    assert "photo.png" in capsys.readouterr().err
    assert snapshot(tmp_path) == before


# ----------------------------------------------------------------------------- 3. one stem, two inputs
def test_two_inputs_with_one_stem_do_not_share_output_files(tmp_path, tiny_model_dir, capsys):
    first, second = write_photo(tmp_path / "a" / "x.png"), write_photo(tmp_path / "b" / "x.png", width=80)
    code = main(["depth", str(first), str(second), "--model", str(tiny_model_dir), "--output", str(tmp_path / "out")])
    error = capsys.readouterr().err
    assert code == 2, "both results would be written to out/x.*"
    assert str(first) in error and str(second) in error
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# ----------------------------------------------------------------------------- 4. a killed render
def _killed_render(folder, num_scenes=3):
    """Render `num_scenes` one per shard into `folder` and die after the first shard."""
    from ma_vlm.data import generate

    config = generate.GenerationConfig(num_scenes=num_scenes, seed=0, num_camera_models=4, max_side_px=64,
                                       min_side_px=48, layouts=("tabletop",), scenes_per_shard=1)
    real_write, written = generate._write_shard, []

    def write_then_die(rows, path):
        real_write(rows, path)
        written.append(path)
        raise KeyboardInterrupt  # what kill -9 would leave: one shard, nothing after it

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(generate, "_write_shard", write_then_die)
        with pytest.raises(KeyboardInterrupt):
            generate.generate_dataset(folder, config)
    assert len(written) == 1
    return folder


def test_a_killed_render_is_not_loaded_as_a_dataset(tmp_path):
    from ma_vlm.data.loading import load_rgbd_dataset
    from ma_vlm.errors import MaVlmInputError

    folder = _killed_render(tmp_path / "rgbd")
    with pytest.raises(MaVlmInputError, match="incomplete"):
        load_rgbd_dataset(folder)


def test_a_killed_render_is_not_extended_by_generate(tmp_path, capsys):
    folder = _killed_render(tmp_path / "rgbd")
    code = main(["data", "generate", "--output", str(folder), "--scenes", "3", "--max-side", "64",
                 "--min-side", "48", "--camera-models", "4"])
    assert code == 2
    assert "incomplete" in capsys.readouterr().err


def test_pretrain_renders_again_over_a_killed_render(tmp_path):
    from accelerate import Accelerator

    from ma_vlm.pretrain.data import training_dataset
    from ma_vlm.pretrain.recipe import recipe_from_dict

    _killed_render(tmp_path / "run" / "data")
    recipe = recipe_from_dict({"data": {"generate": {"scenes": 3, "seed": 0, "camera_models": 4, "max_side": 64,
                                                     "min_side": 48, "layouts": ["tabletop"]}}})
    dataset = training_dataset(recipe, tmp_path / "run", True, Accelerator(cpu=True))
    assert len(dataset) == 3


def test_scaling_renders_again_over_a_killed_render(tmp_path):
    from ma_vlm.data.loading import load_rgbd_dataset
    from ma_vlm.pretrain.scaling import _render

    folder = _killed_render(tmp_path / "eval_data")
    _render(folder, {"scenes": 3, "seed": 0, "camera_models": 4, "max_side": 64, "min_side": 48,
                     "layouts": ["tabletop"]})
    assert len(load_rgbd_dataset(folder)) == 3
