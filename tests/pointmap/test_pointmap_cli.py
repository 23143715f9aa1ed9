"""`ma-vlm depth` with a point-map model, `ma-vlm intrinsics`, `--intrinsics-model`, `ma-vlm reconstruct`."""

import json

import numpy as np
import pytest
from PIL import Image

from ma_vlm.cli import main
from ma_vlm.pointmap.reconstruct import View, read_poses, scale_consistency


@pytest.fixture
def photo(tmp_path):
    image = (np.random.default_rng(0).random((60, 90, 3)) * 255).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "scene.png")
    return tmp_path / "scene.png"


def test_depth_with_a_pointmap_model_writes_points_mask_and_cam_in(tmp_path, photo, pointmap_model_dir):
    out = tmp_path / "out"
    assert main(["depth", str(photo), "--model", str(pointmap_model_dir), "--output", str(out),
                 "--num-tokens", "64"]) == 0
    depth, points, mask = (np.load(out / f"scene{s}.npy") for s in ("", "_points", "_mask"))
    assert depth.shape == (60, 90) and points.shape == (60, 90, 3) and mask.dtype == bool
    assert np.allclose(points[..., 2], depth) and (depth[mask] > 0).all() and (depth[~mask] == 0).all()
    fx, fy, cx, cy = json.loads((out / "scene.json").read_text())["cam_in"]
    assert fx == fy and (cx, cy) == (44.5, 29.5)
    assert 0.8 < fx / (1.25 * np.hypot(90, 60) / 2) < 1.2  # the checkpoint's built-in camera
    u = np.arange(90)[None, :]
    np.testing.assert_allclose(points[..., 0][mask], ((u - cx) / fx * depth)[mask], rtol=1e-4, atol=1e-5)
    assert (out / "scene.png").stat().st_size > 0 and (out / "scene.ply").stat().st_size > 0
    # the recovered cam_in is what a depth model reads next
    from ma_vlm.geometry import Intrinsics

    assert Intrinsics.from_json(out / "scene.json").fx == fx


def test_intrinsics_command_prints_focal_and_fields_of_view(tmp_path, photo, pointmap_model_dir, capsys):
    assert main(["intrinsics", str(photo), "--model", str(pointmap_model_dir), "--num-tokens", "64",
                 "--output", str(tmp_path / "k.json")]) == 0
    printed = capsys.readouterr().out
    assert "FoV x" in printed and "scene.png" in printed
    row = json.loads((tmp_path / "k.json").read_text())["images"][0]
    assert row["fov_x_deg"] == pytest.approx(np.degrees(2 * np.arctan(45 / row["cam_in"][0])))


def test_depth_model_takes_intrinsics_from_the_pointmap_model(tmp_path, photo, pointmap_model_dir, tiny_model_dir,
                                                             capsys):
    out = tmp_path / "out"
    assert main(["depth", str(photo), "--model", str(tiny_model_dir), "--intrinsics-model", str(pointmap_model_dir),
                 "--output", str(out)]) == 0
    assert "using the point-map model's estimate" in capsys.readouterr().out
    assert np.load(out / "scene.npy").shape == (60, 90)


def test_reconstruct_with_poses_fuses_and_reports_scale(tmp_path, multiview_dir, pointmap_model_dir):
    images = sorted(str(p) for p in multiview_dir.glob("view?.png"))
    out = tmp_path / "fused"
    assert main(["reconstruct", *images, "--model", str(pointmap_model_dir), "--output", str(out),
                 "--poses", str(multiview_dir / "poses.json"), "--num-tokens", "64"]) == 0
    report = json.loads((out / "reconstruction.json").read_text())
    assert report["registered"] and (out / "fused.ply").stat().st_size > 0
    assert "max_abs_log_ratio" in report["scale_consistency"]


def test_reconstruct_without_poses_says_the_clouds_are_not_registered(tmp_path, multiview_dir, pointmap_model_dir,
                                                                      capsys):
    images = sorted(str(p) for p in multiview_dir.glob("view?.png"))
    out = tmp_path / "views"
    assert main(["reconstruct", *images, "--model", str(pointmap_model_dir), "--output", str(out),
                 "--num-tokens", "64"]) == 0
    assert "NOT REGISTERED" in capsys.readouterr().out
    assert sorted(p.name for p in out.glob("*.ply")) == ["view0.ply", "view1.ply", "view2.ply"]
    assert not json.loads((out / "reconstruction.json").read_text())["registered"]


def test_ground_truth_views_agree_on_scale_and_a_rescaled_view_is_caught(multiview_dir):
    names = ["view0", "view1", "view2"]
    views = []
    for name in names:
        depth = np.asarray(Image.open(multiview_dir / f"{name}_depth.png")).astype(np.float32) / 1000
        cam_in = json.loads((multiview_dir / f"{name}.json").read_text())["cam_in"]
        views.append(View(name, np.asarray(Image.open(multiview_dir / f"{name}.png")), depth, cam_in))
    poses = read_poses(multiview_dir / "poses.json", names)
    assert scale_consistency(views, poses)["max_abs_log_ratio"] < 0.005
    views[1] = View("view1", views[1].rgb, views[1].depth_m * 1.1, views[1].intrinsics)
    assert scale_consistency(views, poses)["max_abs_log_ratio"] == pytest.approx(np.log(1.1), abs=0.01)
