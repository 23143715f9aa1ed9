"""``ma-vlm data generate`` writes a deterministic Hugging Face dataset in the RGB-D schema."""

import json

import numpy as np
import torch

from ma_vlm.cli import main
from ma_vlm.data.cameras import camera_zoo
from ma_vlm.data.loading import RGBDTorchDataset, load_rgbd_dataset, records_to_dataset
from ma_vlm.data.schema import decode_record, encode_record
from ma_vlm.data.sparse_prompts import parse_prompt_spec


def _decoded(path):
    return [decode_record(row) for row in load_rgbd_dataset(path)]


def test_generate_cli_writes_a_dataset_that_loads_and_is_identical_for_any_worker_count(tmp_path):
    common = ["data", "generate", "--scenes", "4", "--seed", "5", "--camera-models", "20", "--max-side", "80"]
    assert main([*common, "--output", str(tmp_path / "two"), "--workers", "2"]) == 0
    assert main([*common, "--output", str(tmp_path / "one"), "--workers", "1"]) == 0

    one, two = _decoded(tmp_path / "one"), _decoded(tmp_path / "two")
    assert len(one) == len(two) == 4
    for a, b in zip(one, two):
        assert a["scene_id"] == b["scene_id"]
        assert np.array_equal(a["image"], b["image"]) and np.array_equal(a["depth"], b["depth"])
    record = one[0]
    height, width = record["depth"].shape
    assert record["image"].shape == (height, width, 3) and max(height, width) <= 80
    assert record["source"] == "render" and 0 <= record["camera_model_id"] < 20
    camera = camera_zoo(20, max_side_px=80)[record["camera_model_id"]]
    assert record["intrinsics"] == camera.intrinsics and (width, height) == (camera.width_px, camera.height_px)
    assert abs(record["intrinsics"][2] - (width - 1) / 2) <= 0.03 * width + 0.5  # near the centre
    assert record["camera_to_world"].shape == (4, 4)
    assert json.loads((tmp_path / "one" / "generation.json").read_text())["seed"] == 5
    (shard,) = sorted((tmp_path / "one" / "data").glob("*.parquet"))
    assert shard.read_bytes() == (tmp_path / "two" / "data" / shard.name).read_bytes()  # same files
    assert "depth-estimation" in (tmp_path / "one" / "README.md").read_text()  # a Hub dataset card


def test_generate_bad_arguments_exit_with_a_message(tmp_path, capsys):
    assert main(["data", "generate", "--output", str(tmp_path), "--scenes", "2",
                 "--sources", "sonar"]) == 2
    assert "unknown depth source" in capsys.readouterr().err


def test_encode_decode_round_trip_is_bit_exact_for_depth_and_masks():
    rng = np.random.default_rng(0)
    record = {
        "image": rng.integers(0, 256, (5, 7, 3), dtype=np.uint8),
        "depth": rng.uniform(0.1, 80, (5, 7)).astype(np.float32),
        "intrinsics": [6.5, 6.25, 3.5, 2.5], "source": "tof", "instances": [],
        "instance_mask": rng.integers(0, 4, (5, 7)).astype(np.int32),
        "camera_to_world": np.eye(4), "scene_id": "x", "camera_model_id": -1,
    }
    back = decode_record(records_to_dataset([record])[0])
    assert np.array_equal(back["image"], record["image"])
    assert np.array_equal(back["depth"], record["depth"])
    assert np.array_equal(back["instance_mask"], record["instance_mask"])
    assert back["intrinsics"] == record["intrinsics"] and back["source"] == "tof"
    assert encode_record(back)["depth"] == encode_record(record)["depth"]


def test_external_source_saved_to_disk_loads_and_batches_for_torch(tmp_path):
    rng = np.random.default_rng(1)
    records = [{
        "image": rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        "depth": rng.uniform(0.5, 5, (h, w)).astype(np.float32),
        "intrinsics": [w * 0.8, w * 0.8, (w - 1) / 2, (h - 1) / 2], "source": "my_kinect",
    } for h, w in ((12, 16), (20, 14))]
    records_to_dataset(records).save_to_disk(str(tmp_path / "external"))

    dataset = RGBDTorchDataset(load_rgbd_dataset(tmp_path / "external"), size=(8, 8),
                               prompt_sampler=parse_prompt_spec("uniform:0.25"), seed=3)
    batch = torch.utils.data.default_collate([dataset[0], dataset[1]])
    assert batch["pixel_values"].shape == (2, 3, 8, 8) and batch["depth"].shape == (2, 1, 8, 8)
    assert batch["prompt_depth"].shape == (2, 1, 8, 8)
    assert ((batch["prompt_depth"] > 0).flatten(1).sum(1) == 16).all()  # 25% of 64 pixels
    # Resizing 12 x 16 -> 8 x 8 scales fy by 8/12 and fx by 8/16; the centre stays the centre.
    torch.testing.assert_close(batch["intrinsics"][0], torch.tensor([6.4, 12.8 * 8 / 12, 3.5, 3.5]))
    assert torch.equal(dataset[0]["prompt_depth"], dataset[0]["prompt_depth"])  # seeded


def test_generation_can_draw_noisy_sources_per_scene():
    from ma_vlm.data.generate import GenerationConfig, scene_record

    config = GenerationConfig(num_scenes=3, seed=1, num_camera_models=10, max_side_px=64,
                              sources=("lidar",))
    record = scene_record(config, 0)
    clean = scene_record(GenerationConfig(num_scenes=3, seed=1, num_camera_models=10, max_side_px=64), 0)
    assert record["source"] == "lidar" and clean["source"] == "render"
    assert np.array_equal(record["image"], clean["image"])  # same scene, same camera
    assert 0 < (record["depth"] > 0).sum() < (clean["depth"] > 0).sum()  # scan lines only


def test_import_cli_converts_a_benchmark_folder_to_our_schema(tmp_path):
    import json as json_module

    from PIL import Image

    (tmp_path / "raw").mkdir()
    Image.fromarray(np.zeros((5, 7, 3), np.uint8)).save(tmp_path / "raw" / "a.png")
    Image.fromarray(np.full((5, 7), 1500, np.uint16)).save(tmp_path / "raw" / "a_depth.png")
    (tmp_path / "raw" / "a.json").write_text(json_module.dumps({"cam_in": [5.0, 5.0, 3.0, 2.0]}))
    assert main(["data", "import", "--data", str(tmp_path / "raw"), "--output", str(tmp_path / "hf"),
                 "--source", "my_rgbd"]) == 0
    (record,) = _decoded(tmp_path / "hf")
    assert record["source"] == "my_rgbd" and record["depth"][0, 0] == np.float32(1.5)
    assert record["intrinsics"] == [5.0, 5.0, 3.0, 2.0] and record["scene_id"] == "a"
