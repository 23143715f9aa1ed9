"""Benchmark readers read tiny files written in the real on-disk formats."""

import json

import h5py
import numpy as np
from PIL import Image

from ma_vlm.benchmarks.depth.readers import NYUV2_INTRINSICS, open_depth_benchmark
from ma_vlm.data.loading import records_to_dataset


def test_nyuv2_labelled_mat_is_read_with_matlab_axes_transposed(tmp_path):
    # MATLAB stores images as 480 x 640 x 3 x N; h5py sees the transpose (N, 3, 640, 480).
    # Here a tiny 6 x 8 version of the same layout.
    rng = np.random.default_rng(0)
    images_hwcn = rng.integers(0, 256, (6, 8, 3, 2), dtype=np.uint8)
    depths_hwn = rng.uniform(0.5, 9.0, (6, 8, 2))
    with h5py.File(tmp_path / "nyu_depth_v2_labeled.mat", "w") as f:
        f["images"] = images_hwcn.T  # (2, 3, 8, 6)
        f["depths"] = depths_hwn.T  # (2, 8, 6)

    benchmark = open_depth_benchmark(tmp_path / "nyu_depth_v2_labeled.mat")
    samples = list(benchmark.samples())
    assert benchmark.name == "nyuv2" and benchmark.num_samples == 2
    assert benchmark.protocol.crop == "eigen_nyu" and benchmark.protocol.max_depth_m == 10.0
    assert np.array_equal(samples[1]["image"], images_hwcn[..., 1])  # (H, W, 3) again
    np.testing.assert_allclose(samples[1]["depth"], depths_hwn[..., 1], rtol=1e-6)
    assert samples[0]["intrinsics"] == [518.8579, 519.4696, 325.5824, 253.7362] == NYUV2_INTRINSICS


def _png16(path, values):
    Image.fromarray(values.astype(np.uint16)).save(path)


def test_kitti_depth_selection_reads_uint16_over_256_and_intrinsics_txt(kitti_selection):
    benchmark = open_depth_benchmark(kitti_selection)
    (sample,) = benchmark.samples()
    assert benchmark.name == "kitti" and benchmark.protocol.crop == "garg"
    assert sample["depth"][2, 3] == 10.5 and (sample["depth"] > 0).sum() == 2
    assert sample["sensor_depth"][1, 1] == 7.0 and (sample["sensor_depth"] > 0).sum() == 1
    assert sample["intrinsics"] == [721.5377, 721.5377, 596.5593, 149.854]
    assert sample["image"].shape == (4, 12, 3)


def test_plain_folder_reads_millimetre_pngs_and_cam_in_json(tmp_path):
    Image.fromarray(np.zeros((5, 7, 3), np.uint8)).save(tmp_path / "kitchen.png")
    depth_mm = np.full((5, 7), 1234, np.uint16)
    depth_mm[0, 0] = 0
    _png16(tmp_path / "kitchen_depth.png", depth_mm)
    (tmp_path / "kitchen.json").write_text(json.dumps({"cam_in": [500.0, 501.0, 3.0, 2.0]}))

    (sample,) = open_depth_benchmark(tmp_path).samples()
    assert sample["depth"][1, 1] == np.float32(1.234) and sample["depth"][0, 0] == 0
    assert sample["intrinsics"] == [500.0, 501.0, 3.0, 2.0] and sample["scene_id"] == "kitchen"


def test_hf_dataset_in_our_schema_is_a_benchmark(tmp_path):
    record = {"image": np.zeros((4, 6, 3), np.uint8), "depth": np.full((4, 6), 3.0, np.float32),
              "intrinsics": [5.0, 5.0, 2.5, 1.5], "source": "render", "scene_id": "a"}
    records_to_dataset([record]).to_parquet(str(tmp_path / "train.parquet"))
    benchmark = open_depth_benchmark(tmp_path)
    (sample,) = benchmark.samples()
    assert benchmark.name == "hf" and sample["scene_id"] == "a"
    assert np.array_equal(sample["depth"], record["depth"])
