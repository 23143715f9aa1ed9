"""The four ways a command used to lose or silently corrupt what a user gave it (issue 14).

Each test failed on main before its fix: convert --overwrite deleted the folder holding the
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
