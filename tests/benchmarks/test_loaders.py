"""Each benchmark loads from a local copy with its published fields and builds the prompt the
model sees (images + text), offline."""

import json

import numpy as np
import pytest
from PIL import Image

from ma_vlm.benchmarks.spatial.io import load_items
from ma_vlm.benchmarks.spatial.registry import get_benchmark
from ma_vlm.errors import MaVlmInputError


def png(path, size=(24, 16)):
    Image.fromarray(np.full((size[1], size[0], 3), 90, np.uint8)).save(path)
    return str(path)


def parquet_copy(folder, split, rows):
    """A Hub-style folder: data/{split}-00000-of-00001.parquet with an Image column."""
    import datasets

    (folder / "data").mkdir(parents=True)
    datasets.Dataset.from_list(rows).cast_column("image", datasets.Image()).to_parquet(
        str(folder / "data" / f"{split}-00000-of-00001.parquet"))
    return str(folder)


def test_cv_bench_local_parquet_copy(tmp_path):
    image = png(tmp_path / "a.png")
    rows = [{"idx": i, "type": "3D", "task": "Depth", "source": "Omni3D", "image": image,
             "prompt": "Which is closer to the camera?\n(A) box\n(B) lamp", "choices": ["box", "lamp"],
             "answer": "(A)"} for i in range(2)]
    benchmark = get_benchmark("CV-Bench")
    items = load_items(benchmark, parquet_copy(tmp_path / "cvb", "test", rows))
    images, text = benchmark.prompt(dict(items[0]))
    assert len(items) == 2 and images[0].size == (24, 16)
    assert text == "Note: You only need to respond with A, B without providing any additional information.\n\n" + rows[0]["prompt"]


def test_blink_embspatial_3dsr_sat_prompts(tmp_path):
    image = Image.open(png(tmp_path / "a.png"))
    blink = {"idx": "val_1", "sub_task": "Relative_Depth", "image_1": image, "image_2": None,
             "prompt": "Which point is closer?\n(A) A\n(B) B", "choices": ["A", "B"], "answer": "(A)"}
    images, text = get_benchmark("blink").prompt(blink)
    assert len(images) == 1 and text.endswith("(B) B") and "respond with A, B " in text
    emb = {"question_id": "q", "image": image, "question": "Where is the cup?", "answer_options": ["left", "right"],
           "answer": 0, "relation": "left"}
    assert get_benchmark("embspatial").prompt(emb)[1].endswith("Where is the cup?\nA) left\nB) right")
    sr = {"index": "Q1", "image": image, "question": "Which is higher?", "A": "cup", "B": "plate", "C": "nan", "D": None,
          "answer": "A", "category": "height_higher"}
    assert get_benchmark("3dsrbench").prompt(sr)[1] == (
        "Question: Which is higher?\nOptions:\nA. cup\nB. plate\nPlease select the correct answer from the options above. \n")
    sat = {"image_bytes": [image, image], "question": "Did the camera move left?", "answers": ["yes", "no"],
           "correct_answer_idx": 0}
    images, text = get_benchmark("sat").prompt(sat)
    assert len(images) == 2 and "A. yes\nB. no" in text


def test_spatialbench_official_folder(tmp_path):
    png(tmp_path / "img0.png")
    (tmp_path / "existence.json").write_text(json.dumps([
        {"id": "e0", "image": "img0.png", "question": "Is there a cup?", "answer": "Yes"},
        {"id": "e1", "image": "img0.png", "question": "Is there a dog?", "answer": "No"}]))
    benchmark = get_benchmark("spatialbench")
    items = load_items(benchmark, str(tmp_path))
    assert [item["task"] for item in items] == ["existence", "existence"]
    images, text = benchmark.prompt(items[0], str(tmp_path))
    assert text == "Is there a cup?" and images[0].size == (24, 16)


def test_vsibench_videos_give_evenly_spaced_frames(tmp_path):
    av = pytest.importorskip("av")
    (tmp_path / "scannet").mkdir()
    with av.open(str(tmp_path / "scannet" / "scene0001_00.mp4"), "w") as container:
        stream = container.add_stream("mpeg4", rate=4)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for value in range(0, 250, 25):  # 10 frames of rising brightness
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), value, np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    item = {"id": 1, "dataset": "scannet", "scene_name": "scene0001_00", "question_type": "object_counting",
            "question": "How many chair(s) are in this room?", "options": None, "ground_truth": "4"}
    frames, text = get_benchmark("vsibench").prompt(item, str(tmp_path), num_frames=4)
    brightness = [np.asarray(f).mean() for f in frames]
    assert len(frames) == 4 and brightness == sorted(brightness)
    assert text == ("These are frames of a video.\nHow many chair(s) are in this room?\n"
                    "Please answer the question using a single word or phrase.")


def test_missing_copy_and_generated_benchmark_without_data_are_explained(tmp_path):
    with pytest.raises(MaVlmInputError, match="does not exist"):
        load_items(get_benchmark("cv_bench"), str(tmp_path / "nowhere"))
    with pytest.raises(MaVlmInputError, match="generated locally; pass --data"):
        load_items(get_benchmark("synthspatial"))


def test_hub_path_reads_and_concatenates_blinks_spatial_subtasks(monkeypatch):
    import datasets

    calls = []

    def fake_load_dataset(path, name=None, split=None, **kwargs):  # what the Hub would return
        calls.append((path, name, split))
        return datasets.Dataset.from_list([{"idx": f"{split}_{name}_1", "sub_task": name, "answer": "(A)"}])

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    items = load_items(get_benchmark("blink"))
    assert calls[0] == ("BLINK-Benchmark/BLINK", "Relative_Depth", "val")
    assert {item["sub_task"] for item in items} >= {"Relative_Depth", "Spatial_Relation", "Multi-view_Reasoning"}
    load_items(get_benchmark("3dsrbench"), subsets=["3dsr_circular"])
    assert calls[-1] == ("oscarqjh/3DSRBench_lmmseval", "3dsr_circular", "test")


def test_same_named_folders_never_share_cached_rows(tmp_path):
    """Two copies called "copy" with different rows: each loads its own (a folder-name cache
    collision in ``load_dataset(folder)`` would return the first copy's rows twice)."""
    from ma_vlm.benchmarks.spatial.io import load_local_split

    image = png(tmp_path / "a.png")
    for number, rows in ((1, 2), (2, 3)):
        row = {"idx": 0, "source": "COCO", "image": image, "prompt": "?", "choices": ["x"], "answer": "(A)"}
        folder = parquet_copy(tmp_path / f"run{number}" / "copy", "test", [dict(row, idx=i) for i in range(rows)])
        (tmp_path / f"run{number}" / "copy" / "README.md").write_text(
            "---\nconfigs:\n  - config_name: default\n    data_files:\n      - split: test\n"
            "        path: data/test-00000-of-00001.parquet\n---\n")
        assert len(load_local_split(folder, "test")) == rows
        assert len(load_items(get_benchmark("cv_bench"), folder)) == rows
