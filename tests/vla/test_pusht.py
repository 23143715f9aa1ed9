"""PushT (`--env pusht`): the scripted expert solves scenes a random policy does not, its demonstrations
are a LeRobotDataset with a consistent overhead depth map, and a policy trained on them runs in eval."""

import numpy as np
import pytest

from ma_vlm.errors import MaVlmInputError

REPO_ID, IMAGE_SIZE = "local/pusht_ma_vla", 32


def _highest_coverage(env, seed: int, act, steps: int = 300) -> float:
    _, info = env.reset(seed=seed)
    best = info["coverage"]
    for _ in range(steps):
        _, _, success, truncated, info = env.step(act())
        best = max(best, info["coverage"])
        if success or truncated:
            break
    return best


@pytest.mark.parametrize("seed", [0, 7])
def test_expert_covers_the_target_where_random_pushing_does_not(seed):
    from ma_vlm.vla.pusht_env import PushTRGBDEnv

    env = PushTRGBDEnv(image_size=IMAGE_SIZE, with_depth=False)
    rng = np.random.default_rng(seed)
    expert_best = _highest_coverage(env, seed, env.expert())
    random_best = _highest_coverage(env, seed, lambda: rng.uniform(0, 512, 2).astype(np.float32))
    env.close()
    assert expert_best > 0.95  # gym-pusht's success threshold
    assert random_best < 0.5


@pytest.fixture(scope="module")
def pusht_root(tmp_path_factory):
    from ma_vlm.vla.demos import record_demos

    root = tmp_path_factory.mktemp("pusht") / "demos"
    record_demos(None, 2, root, image_size=IMAGE_SIZE, max_episode_steps=10, env="pusht")
    return root


def test_lerobot_reads_pusht_demos_with_depth_of_the_declared_camera(pusht_root):
    import shapely
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from ma_vlm.vla.pusht_env import AGENT_RADIUS, CAMERA_HEIGHT_M, OBJECT_HEIGHT_M, PushTRGBDEnv, block_polygon

    dataset = LeRobotDataset(REPO_ID, root=pusht_root)
    assert dataset.num_episodes == 2 and dataset.num_frames == 20 and dataset.fps == 10
    frame = dataset[0]
    assert frame["observation.images.top"].shape == (3, IMAGE_SIZE, IMAGE_SIZE)
    assert frame["observation.state"].shape == (2,) and frame["action"].shape == (2,)
    assert frame["task"] == "Push the T-shaped block onto the target"
    fx, fy, cx, cy = dataset.meta.features["observation.images.top"]["info"]["camera_intrinsics"]
    assert (fy, cx, cy) == (fx, (IMAGE_SIZE - 1) / 2, (IMAGE_SIZE - 1) / 2)  # pixel centres at integers (ma_vlm.geometry)

    # millimetres as LeRobot returns them: the table 2 m below the camera, the objects' tops 30 mm above it
    depth_m = frame["observation.depth.top"][0].numpy() / 1000
    np.testing.assert_allclose(np.unique(depth_m), [CAMERA_HEIGHT_M - OBJECT_HEIGHT_M, CAMERA_HEIGHT_M], atol=1e-6)
    # back-projected with the recorded intrinsics, every raised pixel lands on the block or the agent
    env = PushTRGBDEnv(image_size=IMAGE_SIZE, with_depth=False)
    env.reset(seed=0)  # the scene of episode 0, frame 0
    rows, cols = np.nonzero(depth_m < CAMERA_HEIGHT_M)
    x_mm = 256 + (cols - cx) / fx * depth_m[rows, cols] * 1000
    y_mm = 256 + (rows - cy) / fy * depth_m[rows, cols] * 1000
    agent = frame["observation.state"].numpy()
    on_agent = np.hypot(x_mm - agent[0], y_mm - agent[1]) <= AGENT_RADIUS
    assert (shapely.contains_xy(block_polygon(env._env.block), x_mm, y_mm) | on_agent).all()
    env.close()


def test_pusht_refuses_tasks_and_metaworld_needs_them(tmp_path):
    from ma_vlm.vla.demos import record_demos

    with pytest.raises(MaVlmInputError, match="drop --tasks"):
        record_demos(["push-v3"], 1, tmp_path / "a", env="pusht")
    with pytest.raises(MaVlmInputError, match="needs --tasks"):
        record_demos(None, 1, tmp_path / "b")
    with pytest.raises(MaVlmInputError, match="metaworld, pusht"):
        record_demos(None, 1, tmp_path / "c", env="pushT")
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_a_metaworld_root_refuses_pusht_episodes(demo_root):
    from ma_vlm.vla.demos import record_demos

    with pytest.raises(MaVlmInputError, match="same --env"):
        record_demos(None, 2, demo_root, image_size=IMAGE_SIZE, env="pusht")


def test_eval_reports_success_and_coverage_on_pusht(pusht_root, tiny_config, tmp_path):
    import json

    from lerobot.datasets.lerobot_dataset import LeRobotDatasetMetadata
    from lerobot.policies.factory import make_policy, make_pre_post_processors

    from ma_vlm.vla.evaluate import evaluate

    meta = LeRobotDatasetMetadata(REPO_ID, root=pusht_root)
    config = tiny_config()
    policy = make_policy(config, ds_meta=meta)
    pre, post = make_pre_post_processors(config, dataset_stats=meta.stats)
    for part in (policy, pre, post):
        part.save_pretrained(tmp_path / "policy")
    results = evaluate(tmp_path / "policy", None, 2, tmp_path / "eval", max_steps=4, gifs_per_task=1, env="pusht")
    assert results["env"] == "pusht" and list(results["tasks"]) == ["pusht"]
    episodes = results["tasks"]["pusht"]["episodes"]
    assert [e["seed"] for e in episodes] == [1000, 1001] and all(e["steps"] == 4 for e in episodes)
    assert 0 <= results["tasks"]["pusht"]["mean_max_coverage"] <= 1
    assert json.loads((tmp_path / "eval" / "results.json").read_text()) == results
    assert len(list((tmp_path / "eval").glob("pusht_seed1000_*.gif"))) == 1
