"""Results get the user's umask, an interrupted import is never read as a dataset, and the
eval-depth folder reader counts the images it cannot score out loud."""

import json
import logging
import os
import stat

import numpy as np
import pytest
from PIL import Image
from reliability_helpers import write_photo

from ma_vlm.atomic_io import write_text_atomic
from ma_vlm.errors import MaVlmInputError


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_atomic_results_get_the_users_umask(tmp_path, umask_022):
    write_text_atomic(tmp_path / "report.json", "{}")
    assert stat.S_IMODE((tmp_path / "report.json").stat().st_mode) == 0o644  # mkstemp alone gives 0600


def test_converted_folder_gets_the_users_umask(tmp_path, official_checkpoint, umask_022):
    from ma_vlm.cli import main

    assert main(["convert", str(official_checkpoint), str(tmp_path / "model")]) == 0
    assert stat.S_IMODE((tmp_path / "model").stat().st_mode) == 0o755  # mkdtemp alone gives 0700
    assert stat.S_IMODE((tmp_path / "model" / "complete.json").stat().st_mode) == 0o644


def _depth_folder(folder, stems):
    for stem in stems:
        write_photo(folder / f"{stem}.png", focal_length_px=None)
        (folder / f"{stem}.json").write_text(json.dumps({"cam_in": [60, 60, 32, 24]}))
        Image.fromarray(np.full((48, 64), 2000, np.uint16)).save(folder / f"{stem}_depth.png")


def test_an_interrupted_import_is_not_a_dataset(tmp_path):
    from ma_vlm.benchmarks.depth.readers import read_depth_folder
    from ma_vlm.data.loading import load_rgbd_dataset, write_rgbd_shards

    _depth_folder(tmp_path / "src", ["a", "b", "c"])

    def records_then_kill():
        for index, sample in enumerate(read_depth_folder(tmp_path / "src").samples()):
            if index == 2:
                raise KeyboardInterrupt  # after the first shard of two records
            yield sample

    with pytest.raises(KeyboardInterrupt):
        write_rgbd_shards(records_then_kill(), tmp_path / "out", records_per_shard=2)
    assert any((tmp_path / "out" / "data").glob("*.parquet"))
    with pytest.raises(MaVlmInputError, match="incomplete"):
        load_rgbd_dataset(tmp_path / "out")


def test_eval_depth_counts_images_without_depth_out_loud(tmp_path, caplog):
    from ma_vlm.benchmarks.depth.readers import read_depth_folder

    _depth_folder(tmp_path, ["a"])
    write_photo(tmp_path / "b.png")  # an image whose depth file is missing
    with caplog.at_level(logging.WARNING, logger="ma_vlm"):
        benchmark = read_depth_folder(tmp_path)
    assert benchmark.num_samples == 1
    assert "1 image(s)" in caplog.text and "b.png" in caplog.text and "NOT evaluated" in caplog.text


def test_an_interrupted_depth_evaluation_leaves_the_old_report(tmp_path, monkeypatch, capsys):
    from ma_vlm.benchmarks.depth import baselines
    from ma_vlm.cli import main

    _depth_folder(tmp_path / "bench", ["a", "b", "c"])
    report = tmp_path / "report.json"
    report.write_text('{"old": true}\n')
    real_call, calls = baselines.InterpolationBaseline.__call__, []

    def interrupted(self, *args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C on the second image
        return real_call(self, *args)

    monkeypatch.setattr(baselines.InterpolationBaseline, "__call__", interrupted)
    code = main(["eval", "depth", "--model", "baseline:linear", "--data", str(tmp_path / "bench"),
                 "--prompt", "grid:4", "--output", str(report)])
    assert code == 130
    assert "Traceback" not in capsys.readouterr().err
    assert report.read_text() == '{"old": true}\n'
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report")] == []  # no temporary left
