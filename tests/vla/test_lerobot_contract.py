"""`ma_vla` holds the facts LeRobot's own policy tests check for ACT, Diffusion and VQBeT: the
factory gives the policy and its config class, the default config builds on an RGB-only dataset
(one 84x84 camera, 6-d state and action, no depth), a save/load round trip is bit-exact, and
one `forward` and one `select_action` run through the processors, as lerobot-train and
lerobot-eval run them. The dataset is a LeRobotDataset written here."""

import inspect
import logging
from copy import deepcopy

import numpy as np
import pytest
import torch

REPO_ID = "local/rgb_only"
CAMERA_KEY = "observation.images.laptop"
JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]
TASK = "pick up the cube"


@pytest.fixture(scope="module", autouse=True)
def plugins_registered():
    """What lerobot-train and lerobot-eval do before anything else: import the installed plugins,
    which registers `ma_vla` (a test must not rely on another test having imported it)."""
    from lerobot.utils.import_utils import register_third_party_plugins

    register_third_party_plugins()


@pytest.fixture(scope="module")
def rgb_only_root(tmp_path_factory):
    """One episode of 8 frames: an 84x84 RGB camera, 6-d state and action, no depth."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    root = tmp_path_factory.mktemp("rgb_only") / "dataset"
    features = {
        CAMERA_KEY: {"dtype": "image", "shape": (84, 84, 3), "names": ["height", "width", "channels"]},
        "observation.state": {"dtype": "float32", "shape": (6,), "names": JOINTS},
        "action": {"dtype": "float32", "shape": (6,), "names": JOINTS},
    }
    dataset = LeRobotDataset.create(REPO_ID, 10, features, root=root, robot_type="so100", use_videos=False)
    rng = np.random.default_rng(0)
    for _ in range(8):
        dataset.add_frame({
            CAMERA_KEY: rng.integers(0, 256, (84, 84, 3), dtype=np.uint8),
            "observation.state": rng.normal(size=6).astype(np.float32),
            "action": rng.normal(size=6).astype(np.float32),
            "task": TASK,
        })
    dataset.save_episode()
    dataset.finalize()
    return root


def _metadata(root):
    from lerobot.datasets.lerobot_dataset import LeRobotDatasetMetadata

    return LeRobotDatasetMetadata(REPO_ID, root=root)


def _default_config_on(root):
    """The default `ma_vla` config with the dataset's features, split as LeRobot's tests split them."""
    from lerobot.configs import FeatureType
    from lerobot.policies.factory import make_policy_config
    from lerobot.utils.feature_utils import dataset_to_policy_features

    config = make_policy_config("ma_vla", device="cpu")
    features = dataset_to_policy_features(_metadata(root).features)
    config.output_features = {key: ft for key, ft in features.items() if ft.type is FeatureType.ACTION}
    config.input_features = {key: ft for key, ft in features.items() if key not in config.output_features}
    return config


def _distillation_notices(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if "depth distillation is off" in record.getMessage()]


def test_factory_gives_the_policy_and_its_config_class():
    from lerobot.policies.factory import get_policy_class, make_policy_config

    from ma_vlm.vla.configuration_ma_vla import MAVLAConfig

    policy_class = get_policy_class("ma_vla")
    annotation = inspect.signature(policy_class.__init__).parameters["config"].annotation
    assert policy_class.name == "ma_vla"
    assert annotation is MAVLAConfig  # the class itself, not the string "MAVLAConfig"
    assert isinstance(make_policy_config("ma_vla"), annotation)


def test_default_config_builds_on_rgb_only_data_and_says_once_what_it_turned_off(rgb_only_root, caplog):
    from lerobot.policies.factory import get_policy_class

    config = _default_config_on(rgb_only_root)
    assert config.distill_depth  # the default asks for distillation...
    with caplog.at_level(logging.WARNING):
        policy = get_policy_class("ma_vla")(config)
    assert not config.distill_depth and policy.depth_head is None  # ...which has no target here
    (notice,) = _distillation_notices(caplog)
    assert "observation.depth.laptop" in notice and "depth_teacher_path" in notice


def test_save_and_load_pretrained_is_bit_exact(rgb_only_root, tmp_path, caplog):
    from lerobot.policies.factory import get_policy_class

    policy_class = get_policy_class("ma_vla")
    config = _default_config_on(rgb_only_root)
    with caplog.at_level(logging.WARNING):
        policy = policy_class(config)
        policy.save_pretrained(tmp_path / "policy")
        given_config = policy_class.from_pretrained(tmp_path / "policy", config=config)
        saved_config = policy_class.from_pretrained(tmp_path / "policy")
    assert len(_distillation_notices(caplog)) == 1  # the saved config says distill_depth: false
    assert not saved_config.config.distill_depth
    for loaded in (given_config, saved_config):
        torch.testing.assert_close(list(loaded.parameters()), list(policy.parameters()), rtol=0, atol=0)
        assert loaded.state_dict().keys() == policy.state_dict().keys()


def test_one_training_step_and_one_action_through_the_processors(rgb_only_root):
    from lerobot.datasets.factory import resolve_delta_timestamps
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    from lerobot.policies.factory import make_policy, make_pre_post_processors

    torch.manual_seed(0)
    meta = _metadata(rgb_only_root)
    config = _default_config_on(rgb_only_root)
    policy = make_policy(config, ds_meta=meta)  # what lerobot-train does
    pre, post = make_pre_post_processors(config, dataset_stats=meta.stats)
    dataset = LeRobotDataset(REPO_ID, root=rgb_only_root, delta_timestamps=resolve_delta_timestamps(config, meta))
    batch = pre(next(iter(torch.utils.data.DataLoader(dataset, batch_size=2, shuffle=False))))
    untouched = deepcopy(batch)

    policy.train()
    loss, logs = policy.forward(batch)
    assert torch.isfinite(loss) and "depth_loss" not in logs
    assert batch.keys() == untouched.keys()  # forward leaves the batch as it found it (LeRobot checks this)
    assert all(torch.equal(batch[k], untouched[k]) for k in batch if isinstance(batch[k], torch.Tensor))
    before = [p.detach().clone() for p in policy.get_optim_params()]
    optimizer = config.get_optimizer_preset().build(policy.get_optim_params())
    loss.backward()
    optimizer.step()
    assert any(not torch.equal(old, new) for old, new in zip(before, policy.get_optim_params()))

    frame = dataset[0]
    observation = {CAMERA_KEY: frame[CAMERA_KEY][None], "observation.state": frame["observation.state"][None],
                   "task": [frame["task"]]}
    policy.reset()
    action = post(policy.select_action(pre(observation)))
    assert action.shape == (1, 6) and torch.isfinite(action).all()
