"""The runner's resume contract with a scripted generator: a crash mid-run keeps every finished
batch, the rerun answers only the rest, and each item is generated exactly once overall."""

import pytest
from synthetic_scenes import painted_record

from ma_vlm.benchmarks.spatial.io import read_jsonl
from ma_vlm.benchmarks.spatial.registry import get_benchmark
from ma_vlm.benchmarks.spatial.runner import run_benchmark
from ma_vlm.benchmarks.spatial.synthspatial import SynthSpatialConfig, build_synthspatial


class ScriptedGenerator:
    """Answers each question with its ground truth; raises on the call numbered ``crash_on``."""

    def __init__(self, answers: dict, crash_on: int | None = None):
        self.answers, self.crash_on, self.calls, self.questions = answers, crash_on, 0, []

    def generate(self, batch, max_new_tokens):
        self.calls += 1
        if self.calls == self.crash_on:
            raise KeyboardInterrupt("killed")
        self.questions += [text for _, text in batch]
        return [self.answers[text] for _, text in batch]


def test_crash_keeps_finished_batches_and_rerun_answers_each_item_once(tmp_path):
    folder = str(tmp_path / "synthspatial")
    dataset = build_synthspatial([painted_record("k0")], folder, config=SynthSpatialConfig(1), fractions=(0, 0, 1))
    benchmark = get_benchmark("synthspatial")
    answers = {benchmark.prompt(row)[1]: row["ground_truth"] for row in dataset["test"]}
    predictions = str(tmp_path / "run.predictions.jsonl")

    crashing = ScriptedGenerator(answers, crash_on=3)
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(benchmark, crashing, predictions, data=folder, batch_size=2)
    assert len(read_jsonl(predictions)) == 4  # two finished batches of two

    finishing = ScriptedGenerator(answers)
    records = run_benchmark(benchmark, finishing, predictions, data=folder, batch_size=2)
    assert len(crashing.questions) + len(finishing.questions) == len(dataset["test"])
    assert sorted(crashing.questions + finishing.questions) == sorted(answers)
    assert [r["_key"] for r in records] == list(dataset["test"]["id"])
    assert all(r["prediction"] == r["ground_truth"] for r in records)
