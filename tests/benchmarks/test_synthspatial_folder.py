"""A SynthSpatial folder stands for finished work only with its completion marker: an
interrupted build is refused by its readers and redone by the next build; a rebuild leaves
nothing of the earlier one; a folder holding other files is never built into."""

import json

import pytest
from synthetic_scenes import painted_record

from ma_vlm.atomic_io import COMPLETE_MARKER
from ma_vlm.benchmarks.spatial.io import load_items
from ma_vlm.benchmarks.spatial.registry import get_benchmark
from ma_vlm.benchmarks.spatial.synthspatial import SynthSpatialConfig, build, build_synthspatial
from ma_vlm.cli import main
from ma_vlm.errors import MaVlmInputError

CONFIG = SynthSpatialConfig(questions_per_type=1)
RECORDS = [painted_record(f"scene{i}") for i in range(2)]


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _interrupted_build(folder, monkeypatch):
    """A build stopped (Ctrl-C) after its parquet splits, before the card and the marker."""
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(build, "dataset_card", interrupt)
        with pytest.raises(KeyboardInterrupt):
            build_synthspatial(RECORDS, str(folder), config=CONFIG, fractions=(0, 0, 1))


def test_the_marker_is_written_last_and_lists_every_file(tmp_path):
    dataset = build_synthspatial(RECORDS, str(tmp_path / "ss"), config=CONFIG, fractions=(0, 0, 1))
    marker = json.loads((tmp_path / "ss" / COMPLETE_MARKER).read_text())
    assert marker["kind"] == "synthspatial"
    assert marker["files"] == ["README.md", "data/test-00000-of-00001.parquet"]
    assert marker["questions"] == {"test": len(dataset["test"])}
    assert len(load_items(get_benchmark("synthspatial"), data=str(tmp_path / "ss"), split="test")) == len(dataset["test"])


def test_an_interrupted_build_is_refused_by_readers_and_redone_by_the_next_build(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "ss"
    _interrupted_build(folder, monkeypatch)
    assert _files(folder) == ["data/test-00000-of-00001.parquet"]  # looks usable, but never finished
    with pytest.raises(MaVlmInputError, match="no complete.json"):
        load_items(get_benchmark("synthspatial"), data=str(folder), split="test")
    assert main(["data", "llava", "--synthspatial", str(folder), "--split", "test", "--output", str(tmp_path / "t.jsonl")]) == 2
    assert "not a finished SynthSpatial folder" in capsys.readouterr().err.strip().splitlines()[-1]
    assert not (tmp_path / "t.jsonl").exists()

    build_synthspatial(RECORDS, str(folder), config=CONFIG, fractions=(0, 0, 1))
    assert _files(folder) == sorted([COMPLETE_MARKER, "README.md", "data/test-00000-of-00001.parquet"])
    assert main(["data", "llava", "--synthspatial", str(folder), "--split", "test", "--output", str(tmp_path / "t.jsonl")]) == 0


def test_a_rebuild_leaves_no_split_of_the_earlier_build(tmp_path):
    folder = tmp_path / "ss"
    build_synthspatial(RECORDS, str(folder), config=CONFIG, fractions=(0, 0, 1))  # all test
    build_synthspatial(RECORDS, str(folder), config=CONFIG, fractions=(1, 0, 0))  # all train
    assert _files(folder) == sorted([COMPLETE_MARKER, "README.md", "data/train-00000-of-00001.parquet"])
    with pytest.raises(MaVlmInputError, match="no 'test' split"):
        load_items(get_benchmark("synthspatial"), data=str(folder), split="test")


def test_a_folder_with_other_files_is_never_built_into(tmp_path, monkeypatch):
    (tmp_path / "rgbd" / "data").mkdir(parents=True)
    (tmp_path / "rgbd" / "notes.txt").write_text("mine")
    (tmp_path / "rgbd" / "README.md").write_text("my card")
    with pytest.raises(MaVlmInputError, match="notes.txt"):
        build_synthspatial(RECORDS, str(tmp_path / "rgbd"), config=CONFIG)
    assert (tmp_path / "rgbd" / "README.md").read_text() == "my card"

    folder = tmp_path / "ss"  # a finished build the user has since added a file to
    build_synthspatial(RECORDS, str(folder), config=CONFIG, fractions=(0, 0, 1))
    (folder / "scores.json").write_text("{}")
    with pytest.raises(MaVlmInputError, match="scores.json"):
        build_synthspatial(RECORDS, str(folder), config=CONFIG, fractions=(0, 0, 1))
    assert (folder / "scores.json").read_text() == "{}" and (folder / COMPLETE_MARKER).is_file()
