"""The `ma_vla` policy as LeRobot uses it: built from a dataset, trained, run in a gym loop, saved."""

import pytest
import torch

from ma_vlm.errors import MaVlmInputError

REPO_ID = "local/metaworld_ma_vla"


def _raw_batch(demo_root, config, size=4):
    from lerobot.datasets.factory import resolve_delta_timestamps
    from lerobot.datasets.lerobot_dataset import LeRobotDataset, LeRobotDatasetMetadata

    meta = LeRobotDatasetMetadata(REPO_ID, root=demo_root)
    dataset = LeRobotDataset(REPO_ID, root=demo_root, delta_timestamps=resolve_delta_timestamps(config, meta))
    return torch.utils.data.default_collate([dataset[i] for i in range(0, 2 * size, 2)])


def _batch(demo_root, config, pre, size=4):
    return pre(_raw_batch(demo_root, config, size))


@pytest.mark.parametrize("variant", [{}, {"distill_depth": False, "depth_input": True}])
def test_a_few_steps_lower_the_loss(demo_root, build_policy, variant):
    torch.manual_seed(0)
    policy, pre, _, _ = build_policy(**variant)
    batch = _batch(demo_root, policy.config, pre)
    optimizer = torch.optim.AdamW(policy.get_optim_params(), lr=1e-3)
    policy.train()
    losses = []
    for _ in range(12):
        torch.manual_seed(1)  # same flow noise and times each step: one fixed objective
        loss, logs = policy.forward(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert ("depth_loss" in logs) == policy.config.distill_depth
    assert losses[-1] < 0.7 * losses[0], losses


def test_select_action_in_a_gym_loop(build_policy):
    from ma_vlm.vla.evaluate import observation_to_batch
    from ma_vlm.vla.metaworld_env import MetaWorldRGBDEnv

    policy, pre, post, _ = build_policy()
    env = MetaWorldRGBDEnv("reach-v3", image_size=32, max_episode_steps=5, with_depth=False)
    observation, _ = env.reset(seed=7)
    policy.reset()
    for step in range(5):
        batch = pre(observation_to_batch(observation, env.task_description, env.camera, policy.config.depth_unit))
        action = post(policy.select_action(batch))
        assert action.shape == (1, 4)
        assert len(policy._action_queue) == (step + 1) % 2  # n_action_steps = 2: a new chunk every other step
        observation, *_ = env.step(action[0].numpy().clip(-1, 1))
    env.close()


def test_save_load_round_trip(build_policy, demo_root, tmp_path):
    from lerobot.policies.factory import make_pre_post_processors

    from ma_vlm.vla.modeling_ma_vla import MAVLAPolicy

    policy, pre, post, _ = build_policy()
    policy.save_pretrained(tmp_path)
    pre.save_pretrained(tmp_path)
    post.save_pretrained(tmp_path)
    loaded = MAVLAPolicy.from_pretrained(tmp_path)
    loaded_pre, _ = make_pre_post_processors(loaded.config, pretrained_path=str(tmp_path))
    batch = pre(_raw_batch(demo_root, policy.config, size=2))
    loaded_batch = loaded_pre(_raw_batch(demo_root, policy.config, size=2))
    assert torch.equal(loaded_batch["observation.language.tokens"], batch["observation.language.tokens"])
    assert torch.equal(loaded_batch["observation.state"], batch["observation.state"])  # same normalisation stats
    torch.manual_seed(3)
    expected = policy.predict_action_chunk(batch)
    torch.manual_seed(3)
    assert torch.equal(loaded.predict_action_chunk(loaded_batch), expected)
    assert loaded.config.camera_intrinsics == policy.config.camera_intrinsics != {}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cameras": ["wrist"]}, "observation.images.wrist"),
        ({"action_dim": 7}, "action has dimension 4"),
    ],
)
def test_bad_config_fails_at_construction(build_policy, overrides, message):
    with pytest.raises(MaVlmInputError, match=message):
        build_policy(**overrides)


def test_dataset_without_state_or_depth_input_fails_at_construction(tiny_config):
    from lerobot.configs import FeatureType, PolicyFeature

    from ma_vlm.vla.modeling_ma_vla import MAVLAPolicy

    image = PolicyFeature(type=FeatureType.VISUAL, shape=(3, 32, 32))
    action = {"action": PolicyFeature(type=FeatureType.ACTION, shape=(4,))}
    no_state = tiny_config(input_features={"observation.images.corner4": image}, output_features=action, distill_depth=False)
    with pytest.raises(MaVlmInputError, match="observation.state"):
        MAVLAPolicy(no_state)
    state = {"observation.state": PolicyFeature(type=FeatureType.STATE, shape=(4,))}
    rgb_only = {"observation.images.corner4": image, **state}
    with pytest.raises(MaVlmInputError, match="observation.depth.corner4"):
        MAVLAPolicy(tiny_config(input_features=rgb_only, output_features=action, depth_input=True))
    teacher_without_intrinsics = tiny_config(input_features=rgb_only, output_features=action, depth_teacher_path="t")
    with pytest.raises(MaVlmInputError, match="camera_intrinsics"):
        MAVLAPolicy(teacher_without_intrinsics)


def test_batch_without_the_instruction_tokens_fails_clearly(build_policy, demo_root):
    policy, pre, _, _ = build_policy()
    batch = _batch(demo_root, policy.config, pre, size=2)
    del batch["observation.language.tokens"]
    with pytest.raises(MaVlmInputError, match="preprocessor"):
        policy.forward(batch)


def test_distillation_target_is_the_teachers_token_depth(build_policy, demo_root, tmp_path):
    """With depth_teacher_path the head learns the frozen tower's one-pass `token_depth`, computed
    with the dataset's intrinsics; the deployed policy needs no depth key."""
    from ma_vlm.models.metric_anything import PRESETS, MetricAnythingForDepthEstimation, preset_config

    backbone = dict(PRESETS["tiny"]["backbone_config"], image_size=64)  # 4x4 tokens per 64 px tile
    teacher = MetricAnythingForDepthEstimation(preset_config("tiny", image_size=256, backbone_config=backbone,
                                                             tile_overlaps=(0.5, 0.5)))
    teacher.save_pretrained(tmp_path / "teacher")
    policy, pre, _, _ = build_policy(tower_image_size=64, depth_teacher_path=str(tmp_path / "teacher"))
    batch = _batch(demo_root, policy.config, pre, size=2)
    fx, fy, cx, cy = policy.config.camera_intrinsics["corner4"]
    images = torch.nn.functional.interpolate(batch["observation.images.corner4"], size=(256, 256), mode="bilinear",
                                             antialias=True)
    expected = teacher.eval()(pixel_values=(images - policy.image_mean) / policy.image_std,
                              intrinsics=torch.tensor([[fx * 8, fy * 8, cx * 8, cy * 8]] * 2)).token_depth
    assert torch.allclose(policy._token_depth_target(batch, "corner4"), expected)
    policy.train()
    del batch["observation.depth.corner4"]
    loss, logs = policy.forward(batch)
    assert torch.isfinite(loss) and logs["depth_loss"] > 0
