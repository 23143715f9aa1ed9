"""The renderer's depth is metric z-depth consistent with the intrinsics and the camera pose."""

import numpy as np
import pytest

from ma_vlm.data.cameras import CameraModel, camera_zoo
from ma_vlm.data.render import render_scene
from ma_vlm.data.scenes import Geom, SceneObject, SceneSpec, sample_scene
from ma_vlm.geometry import Intrinsics, backproject

CAMERA = CameraModel(camera_model_id=0, width_px=64, height_px=48, focal_length_px=40.0)


def _spec(objects, background=(), position=(0.0, 0.0, 1.0), target=(10.0, 0.0, 1.0)):
    return SceneSpec("test", "room", list(objects), list(background), np.array(position),
                     np.array(target), light_intensity=0.8, far_m=30.0)


def _back_project(depth, intrinsics):
    """(N, 3) camera-frame points of the valid pixels, with the project's own back-projection."""
    return backproject(depth, Intrinsics.from_cam_in(intrinsics))[depth > 0]


@pytest.mark.parametrize("offset", [(0, 0), (3, -2)])
def test_box_face_at_two_metres_has_depth_two_and_projects_with_the_intrinsics(offset):
    # A box whose front face is the plane x = 2.0 m in front of a camera looking along +x.
    box = SceneObject("box", "red", (0.8, 0.1, 0.1), "flat",
                      [Geom("box", (0.1, 0.41, 0.31))], position_m=(2.1, 0.0, 1.0), yaw_rad=0.0)
    camera = CameraModel(0, 64, 48, 40.0, principal_offset_px=offset)
    record = render_scene(_spec([box]), camera)

    depth, (dx, dy) = record["depth"], offset
    assert depth.shape == (48, 64)
    assert record["intrinsics"] == [40.0, 40.0, 31.5 + dx, 23.5 + dy]  # integer pixel centres
    np.testing.assert_allclose(depth[depth > 0], 2.0, atol=1e-3)
    # Face half-extents 0.41 x 0.31 m at 2 m -> 8.2 x 6.2 px either side of the optical axis
    # (cx, cy): columns 24..39 and rows 18..29 (+ the offset) have their centres inside.
    assert (depth > 0).sum() == 16 * 12
    assert np.array_equal(np.nonzero((depth > 0).any(0))[0], np.arange(24, 40) + dx)
    assert np.array_equal(np.nonzero((depth > 0).any(1))[0], np.arange(18, 30) + dy)
    points = _back_project(depth, record["intrinsics"])
    assert np.abs(points[:, 0]).max() <= 0.41 and np.abs(points[:, 1]).max() <= 0.31

    (instance,) = record["instances"]
    np.testing.assert_allclose(instance["center_m"], [0.0, 0.0, 2.1], atol=1e-6)
    np.testing.assert_allclose(instance["size_m"], [0.2, 0.62, 0.82], atol=1e-6)
    assert instance["pixel_count"] == 192
    assert np.array_equal(record["instance_mask"] == 1, depth > 0)


def test_floor_points_back_project_onto_the_floor_plane_through_the_pose():
    floor = (Geom("plane", (20.0, 20.0, 0.1)), (0.5, 0.5, 0.5), "checker")
    record = render_scene(_spec([], [floor], position=(0.3, -0.2, 1.5), target=(3.0, 1.0, 0.0)), CAMERA)

    points = _back_project(record["depth"], record["intrinsics"])
    world = points @ record["camera_to_world"][:3, :3].T + record["camera_to_world"][:3, 3]
    assert len(points) > 1000
    np.testing.assert_allclose(world[:, 2], 0.0, atol=2e-3)  # every pixel lies on z = 0
    np.testing.assert_allclose(record["camera_to_world"][:3, 3], [0.3, -0.2, 1.5])


def test_camera_pose_matches_mujocos_camera_frame():
    import mujoco

    from ma_vlm.data.render import camera_to_world_opencv
    from ma_vlm.data.scenes import scene_to_mjcf

    spec = _spec([], position=(0.3, -0.2, 1.5), target=(3.0, 1.0, 0.0))
    model = mujoco.MjModel.from_xml_string(scene_to_mjcf(spec, 64, 48, CAMERA.fovy_deg))
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    pose = camera_to_world_opencv(spec.camera_position_m, spec.camera_target_m)
    # OpenCV axes are MuJoCo's camera axes with y and z flipped (MuJoCo looks along -z).
    np.testing.assert_allclose(pose[:3, :3], data.cam_xmat[0].reshape(3, 3) @ np.diag([1, -1, -1]), atol=1e-6)
    np.testing.assert_allclose(pose[:3, 3], data.cam_xpos[0])
    assert model.cam_fovy[0] == pytest.approx(CAMERA.fovy_deg)  # fy = H / (2 tan(fovy / 2)) = 40


def test_procedural_layouts_render_objects_with_masks_and_boxes():
    # the widest view of the first 50 cameras: a narrow one may see only a wall
    camera = max(camera_zoo(50, max_side_px=96), key=lambda c: c.fovy_deg)
    for layout in ("room", "tabletop", "street"):
        record = render_scene(sample_scene(layout, np.random.default_rng(7), "s"), camera)
        assert record["image"].shape == (camera.height_px, camera.width_px, 3)
        assert record["image"].dtype == np.uint8 and record["depth"].dtype == np.float32
        assert record["instances"], layout
        for instance in record["instances"]:
            assert (record["instance_mask"] == instance["instance_id"]).sum() == instance["pixel_count"] > 0
        assert set(np.unique(record["instance_mask"])) <= {0} | {i["instance_id"] for i in record["instances"]}


def test_same_scene_renders_identically():
    camera = camera_zoo(50, max_side_px=96)[0]
    first = render_scene(sample_scene("room", np.random.default_rng(3), "a"), camera)
    second = render_scene(sample_scene("room", np.random.default_rng(3), "a"), camera)
    assert np.array_equal(first["image"], second["image"])
    assert np.array_equal(first["depth"], second["depth"])


def test_camera_zoo_has_over_a_thousand_distinct_intrinsics_and_nests():
    zoo = camera_zoo(1500)
    assert len({tuple(c.intrinsics) + (c.width_px, c.height_px) for c in zoo}) == 1500
    assert len({c.focal_length_px for c in zoo}) > 500 and len({(c.width_px, c.height_px) for c in zoo}) > 200
    assert len({c.width_px / c.height_px for c in zoo}) >= 10  # aspect ratio variety
    assert camera_zoo(100) == zoo[:100]  # smaller zoos are subsets: a clean scaling axis
    for camera in zoo[:20]:  # MuJoCo's fovy of the (centred) render gives fy
        render_height = camera.render_size_px[1]
        assert camera.intrinsics[1] == pytest.approx(render_height / (2 * np.tan(np.radians(camera.fovy_deg) / 2)))
