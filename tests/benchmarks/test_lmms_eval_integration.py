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


SYNTHSPATIAL_METRICS = ("synthspatial_overall", "object_abs_distance_mra", "object_size_estimation_mra",
                        "object_camera_distance_mra", "object_counting_mra", "object_depth_order_accuracy",
                        "object_rel_distance_accuracy", "object_rel_direction_accuracy")


def run_lmms_eval(arguments: list[str], cwd, env_extra: dict | None = None):
    import os
    import shutil
    import subprocess
    import sys

    executable = shutil.which("lmms-eval", path=os.path.dirname(sys.executable)) or "lmms-eval"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", **(env_extra or {})}
    result = subprocess.run([executable, *arguments], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    return result, result.stdout + result.stderr


def test_the_documented_lmms_eval_command_scores_synthspatial(tiny_llava, synthspatial_copy, tmp_path):
    """eval/lmms_eval/README.md's command, typed in the folder that holds the SynthSpatial build."""
    import shutil

    shutil.copytree(synthspatial_copy, tmp_path / "synthspatial_data")
    tasks = TASK_DIR.parent
    result, output = run_lmms_eval(["--model", "ma_vlm", "--model_args", f"pretrained={tiny_llava}", "--tasks",
                                    "synthspatial", "--include_path", str(tasks), "--limit", "8"], cwd=tmp_path)
    assert result.returncode == 0, output[-3000:]
    assert "Selected Tasks: ['synthspatial']" in output, output[-3000:]
    table = [line for line in result.stdout.splitlines() if line.startswith("|synthspatial|")]
    assert sorted(line.split("|")[4].strip() for line in table) == sorted(SYNTHSPATIAL_METRICS), result.stdout
    assert "limit: 8" in result.stdout


def write_video(path, frame_count: int, seed: int) -> None:
    import av
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=4)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for _ in range(frame_count):
            pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())


def vsibench_copy(root):
    """VSI-Bench's layout: a test split with its columns, and one video per scene under
    ``$HF_HOME/vsibench/<dataset>/<scene_name>.mp4``, where lmms-eval's task code reads them."""
    import datasets

    rows = [
        dict(id=0, dataset="arkitscenes", scene_name="41069025", question_type="object_counting",
             question="How many chair(s) are in this room?", options=None, ground_truth="4"),
        dict(id=1, dataset="scannet", scene_name="scene0011_00", question_type="object_rel_distance",
             question="Which object is closest to the sofa?", options=["A. table", "B. lamp", "C. bed", "D. tv"],
             ground_truth="B"),
        dict(id=2, dataset="scannetpp", scene_name="0a5c013435", question_type="room_size_estimation",
             question="What is the size of this room (in square meters)?", options=None, ground_truth="18.5"),
    ]
    for level in ("easy", "medium", "hard"):  # lmms-eval's overall averages the three levels
        rows.append(dict(id=len(rows), dataset="scannet", scene_name="scene0011_00",
                         question_type=f"object_rel_direction_{level}", options=["A. left", "B. right", "C. back"],
                         question="Standing by the bed facing the tv, is the lamp to my left, right or back?",
                         ground_truth="A"))
    for index, row in enumerate(rows[:3]):
        write_video(root / "hf_home" / "vsibench" / row["dataset"] / f"{row['scene_name']}.mp4", 6 + index, index)
    (root / "vsi_bench").mkdir()
    datasets.Dataset.from_list(rows).to_parquet(str(root / "vsi_bench" / "test-00000-of-00001.parquet"))
    return rows


def test_lmms_eval_runs_its_own_vsibench_task_code_through_the_adapter(tiny_llava, tmp_path):
    """lmms-eval's vsibench task (its yaml, prompts, video paths and scorer, included from the
    installed package, not copied) on a local copy in VSI-Bench's layout; the adapter samples the
    videos' frames, and ``ma-vlm eval score`` gives the same overall score for the same answers."""
    import json

    import lmms_eval

    from ma_vlm.benchmarks.spatial.scoring import score_items

    rows = vsibench_copy(tmp_path)
    official_yaml = pathlib.Path(lmms_eval.__file__).parent / "tasks" / "vsibench" / "vsibench.yaml"
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "vsibench_local.yaml").write_text(
        f"include: {official_yaml}\ntask: vsibench_local\ndataset_path: {tmp_path / 'vsi_bench'}\ndataset_name: null\n"
        "dataset_kwargs:\n  cache_dir: vsibench\n  video: true\n")
    result, output = run_lmms_eval(
        ["--model", "ma_vlm", "--model_args", f"pretrained={tiny_llava},max_num_frames=4", "--tasks", "vsibench_local",
         "--include_path", str(tmp_path / "tasks"), "--log_samples", "--output_path", str(tmp_path / "out")],
        cwd=tmp_path, env_extra={"HF_HOME": str(tmp_path / "hf_home")})
    assert result.returncode == 0 and "Selected Tasks: ['vsibench_local']" in output, output[-3000:]
    overall = next(line for line in result.stdout.splitlines() if "|vsibench_overall" in line)
    samples = [json.loads(line) for path in (tmp_path / "out").rglob("*vsibench_local*.jsonl") for line in path.open()]
    assert sorted(sample["doc_id"] for sample in samples) == list(range(len(rows)))
    answers = {sample["doc_id"]: sample["filtered_resps"][0] for sample in samples}
    ours = score_items("vsibench", [{**row, "prediction": answers[index]} for index, row in enumerate(rows)])["scores"]
    assert float(overall.split("|")[6]) == round(ours["overall"], 4)


def test_a_video_visual_becomes_evenly_spaced_frames(tmp_path):
    import av
    import numpy as np

    from ma_vlm.benchmarks.spatial.lmms_eval_model import _as_images
    from ma_vlm.errors import MaVlmInputError

    path = tmp_path / "scene.mp4"
    with av.open(str(path), "w") as container:  # frame i is a flat grey of level 40 * i
        stream = container.add_stream("mpeg4", rate=4)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for index in range(6):
            pixels = np.full((32, 32, 3), 40 * index, dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
    frames = _as_images([str(path)], max_num_frames=4)
    levels = [round(float(np.asarray(frame).mean()) / 40) for frame in frames]
    assert levels == [0, 2, 3, 5] and frames[0].size == (32, 32)  # linspace(0, 5, 4) rounded
    assert len(_as_images([str(path)], max_num_frames=10)) == 6
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    with pytest.raises(MaVlmInputError, match="broken.mp4"):
        _as_images([str(tmp_path / "broken.mp4")], max_num_frames=4)
