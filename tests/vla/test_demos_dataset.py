"""`ma-vlm vla demos` writes a LeRobotDataset that LeRobot's own reader loads, and resumes."""

import math

import pytest

from ma_vlm.errors import MaVlmInputError

REPO_ID, IMAGE_SIZE, CAMERA = "local/metaworld_ma_vla", 32, "corner4"


def test_lerobot_reads_frames_depth_and_intrinsics(demo_root):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    dataset = LeRobotDataset(REPO_ID, root=demo_root)
    assert dataset.num_episodes == 2
    frame = dataset[0]
    assert frame["observation.images.corner4"].shape == (3, IMAGE_SIZE, IMAGE_SIZE)
    assert frame["observation.state"].shape == (4,) and frame["action"].shape == (4,)
    assert frame["task"] == "Reach a goal position"
    # metric depth, returned by LeRobot in millimetres: the table is ~0.5-2 m from this camera
    depth_mm = frame["observation.depth.corner4"]
    assert depth_mm.shape == (1, IMAGE_SIZE, IMAGE_SIZE)
    assert 300 < depth_mm.median().item() < 3000
    fx, fy, cx, cy = dataset.meta.features["observation.images.corner4"]["info"]["camera_intrinsics"]
    assert fy == pytest.approx(IMAGE_SIZE / (2 * math.tan(math.radians(60) / 2)))  # corner4: fovy 60
    assert (fx, cx, cy) == (fy, IMAGE_SIZE / 2, IMAGE_SIZE / 2)


def test_rerun_resumes_and_refuses_other_tasks(tmp_path):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from ma_vlm.vla.demos import record_demos

    root, steps = tmp_path / "demos", dict(image_size=IMAGE_SIZE, max_episode_steps=5, repo_id=REPO_ID)
    record_demos(["reach-v3"], 1, root, **steps)
    first = LeRobotDataset(REPO_ID, root=root)
    record_demos(["reach-v3"], 2, root, **steps)  # one more episode: seed 1, appended
    record_demos(["reach-v3"], 2, root, **steps)  # finished: nothing re-recorded
    resumed = LeRobotDataset(REPO_ID, root=root)
    assert resumed.num_episodes == 2 and resumed.num_frames == 2 * first.num_frames
    assert (resumed[0]["observation.state"] == first[0]["observation.state"]).all()
    with pytest.raises(MaVlmInputError, match="recorded with"):
        record_demos(["push-v3"], 2, root, **steps)


def test_v2_task_names_get_a_hint():
    from ma_vlm.vla.metaworld_env import check_tasks

    with pytest.raises(MaVlmInputError, match="push-v3"):
        check_tasks(["push-v2"])
