"""lmms-eval integration: the ``ma_vlm`` model resolves through the ``lmms_eval.models`` entry
point and answers lmms-eval requests like ``ma-vlm eval spatial`` does; the SynthSpatial task
folder scores like ``ma-vlm eval score``. Skipped without the optional ``[eval]`` extra."""

import importlib.util
import pathlib

import pytest

if importlib.util.find_spec("lmms_eval") is None:
    pytest.skip("lmms-eval is not installed (pip install 'ma-vlm[eval]')", allow_module_level=True)

TASK_DIR = pathlib.Path(__file__).parents[2] / "eval" / "lmms_eval" / "tasks" / "synthspatial"


def task_utils():
    spec = importlib.util.spec_from_file_location("synthspatial_task_utils", TASK_DIR / "utils.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_entry_point_resolves_the_adapter():
    from lmms_eval.models.registry_v2 import ModelRegistryV2

    from ma_vlm.benchmarks.spatial.lmms_eval_model import MaVlmImageTextModel

    registry = ModelRegistryV2()
    registry.load_entrypoint_manifests()
    assert registry.get_model_class("ma_vlm") is MaVlmImageTextModel


def test_adapter_answers_requests_like_eval_spatial(tiny_llava, synthspatial_copy):
    from lmms_eval.api.instance import Instance

    from ma_vlm.benchmarks.spatial.io import load_local_split
    from ma_vlm.benchmarks.spatial.lmms_eval_model import MaVlmImageTextModel
    from ma_vlm.benchmarks.spatial.registry import get_benchmark

    docs = load_local_split(synthspatial_copy, "test").select(range(3))
    utils = task_utils()
    model = MaVlmImageTextModel(pretrained=tiny_llava, batch_size=2)
    model.task_dict = {"synthspatial": {"test": docs}}
    requests = [
        Instance("generate_until", (utils.synthspatial_doc_to_text(doc), {"max_new_tokens": 4, "until": ["\n\n"]},
                                    utils.synthspatial_doc_to_visual, i, "synthspatial", "test"),
                 idx=0, metadata={"task": "synthspatial", "doc_id": i, "repeats": 1})
        for i, doc in enumerate(docs)
    ]
    answers = model.generate_until(requests)
    benchmark = get_benchmark("synthspatial")
    expected = model.generator.generate([benchmark.prompt(doc) for doc in docs], 4)
    assert answers == [a.split("\n\n")[0] for a in expected]


def test_task_scores_match_ma_vlm_eval_score(synthspatial_copy):
    from ma_vlm.benchmarks.spatial.io import load_local_split
    from ma_vlm.benchmarks.spatial.scoring import score_items

    utils = task_utils()
    docs = load_local_split(synthspatial_copy, "test").remove_columns("image")
    guesses = ["A", "2", "1.00", "(B)", "three", ""]
    predictions = [doc["ground_truth"] if i % 2 else guesses[i % len(guesses)] for i, doc in enumerate(docs)]
    rows = [utils.synthspatial_process_results(dict(doc), [p]) for doc, p in zip(docs, predictions)]
    ours = score_items("synthspatial", [{**doc, "prediction": p} for doc, p in zip(docs, predictions)])["scores"]
    for metric, key in utils.AGGREGATE_KEYS.items():
        aggregate = getattr(utils, {"synthspatial_overall": "synthspatial_aggregate_overall"}.get(
            metric, "synthspatial_aggregate_" + metric.rsplit("_", 1)[0]))
        assert aggregate([row[metric] for row in rows]) == round(ours.get(key, 0.0), 6), metric
    assert 0 < ours["overall"] < 1
    text = utils.synthspatial_doc_to_text(dict(docs[0]))
    assert text.startswith(docs[0]["question"]) and text.endswith(("directly.", "phrase."))
