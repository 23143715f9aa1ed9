"""A `depth_input=true` policy under LeRobot's own eval loop (`lerobot_eval.eval_policy`, as
`lerobot-eval --policy.path=... --env.type=ma_metaworld --env.with_depth=true` runs it): the env
renders depth, the env processor step hands it over, and the policy reads the same depth, in the
same unit and layout, that the dataset gave it in training."""

import pytest
import torch

from ma_vlm.errors import MaVlmInputError

REPO_ID = "local/metaworld_ma_vla"


def _saved_depth_input_policy(build_policy, folder):
    policy, pre, post, _ = build_policy(distill_depth=False, depth_input=True)
    for part in (policy, pre, post):
        part.save_pretrained(folder)


def _load_as_lerobot_eval_does(folder, env_config):
    """make_policy from the env's features, the saved processors, the env's processors (lerobot_eval.eval_main)."""
    from lerobot.configs import PreTrainedConfig
    from lerobot.envs.factory import make_env_pre_post_processors
    from lerobot.policies.factory import make_policy, make_pre_post_processors

    config = PreTrainedConfig.from_pretrained(folder)
    config.pretrained_path = folder
    policy = make_policy(config, env_cfg=env_config).eval()
    pre, post = make_pre_post_processors(config, pretrained_path=str(folder))
    env_pre, env_post = make_env_pre_post_processors(env_cfg=env_config, policy_cfg=config)
    return policy, pre, post, env_pre, env_post


def _env_config(**overrides):
    from lerobot.envs.factory import make_env_config

    import ma_vlm.vla.lerobot_env  # noqa: F401  (what the installed lerobot_env_ma_metaworld plugin imports)

    return make_env_config("ma_metaworld", **{"task": "reach-v3", "image_size": 32, "episode_length": 4, **overrides})


def test_depth_input_policy_runs_an_episode_in_lerobots_eval_loop(build_policy, demo_root, tmp_path):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    from lerobot.envs.factory import make_env
    from lerobot.envs.utils import close_envs
    from lerobot.scripts.lerobot_eval import eval_policy

    torch.manual_seed(0)
    _saved_depth_input_policy(build_policy, tmp_path / "policy")
    env_config = _env_config(with_depth=True)
    policy, pre, post, env_pre, env_post = _load_as_lerobot_eval_does(tmp_path / "policy", env_config)
    seen = []
    select_action = policy.select_action
    policy.select_action = lambda batch, **kwargs: (seen.append(batch), select_action(batch, **kwargs))[1]
    envs = make_env(env_config, n_envs=1)
    try:
        info = eval_policy(envs["reach-v3"][0], policy, env_pre, env_post, pre, post, n_episodes=1, start_seed=0)
    finally:
        close_envs(envs)
    assert len(info["per_episode"]) == 1 and info["per_episode"][0]["seed"] == 0
    assert len(seen) == 4  # one action per step of the 4-step episode
    # seed 0 is the scene of the dataset's first episode: its first frame is the same picture, same depth
    recorded = LeRobotDataset(REPO_ID, root=demo_root)[0]["observation.depth.corner4"]  # (1, H, W) mm
    assert seen[0]["observation.depth.corner4"].shape == (1, 1, 32, 32)
    torch.testing.assert_close(seen[0]["observation.depth.corner4"][0], recorded, rtol=1e-5, atol=1e-3)


def test_env_without_depth_tells_which_flag_renders_it(build_policy, tmp_path):
    from lerobot.envs.factory import make_env
    from lerobot.envs.utils import close_envs
    from lerobot.scripts.lerobot_eval import eval_policy

    _saved_depth_input_policy(build_policy, tmp_path / "policy")
    env_config = _env_config(with_depth=False)
    policy, pre, post, env_pre, env_post = _load_as_lerobot_eval_does(tmp_path / "policy", env_config)
    envs = make_env(env_config, n_envs=1)
    try:
        with pytest.raises(MaVlmInputError, match="--env.with_depth=true"):
            eval_policy(envs["reach-v3"][0], policy, env_pre, env_post, pre, post, n_episodes=1, start_seed=0)
    finally:
        close_envs(envs)
