"""A tiny MetaWorld demonstration dataset (2 short reach episodes, 32 px) and a tiny policy config."""

import os

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

REPO_ID = "local/metaworld_ma_vla"
IMAGE_SIZE = 32


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory):
    from ma_vlm.vla.demos import record_demos

    root = tmp_path_factory.mktemp("vla") / "demos"
    record_demos(["reach-v3"], 2, root, image_size=IMAGE_SIZE, max_episode_steps=12, repo_id=REPO_ID)
    return root


@pytest.fixture()
def tiny_config():
    """A config small enough for a CPU test: 32 px tower input (4 tokens), 1-layer blocks."""
    from ma_vlm.vla.configuration_ma_vla import MAVLAConfig

    def make(**overrides):
        values = dict(device="cpu", tower_image_size=IMAGE_SIZE, chunk_size=4, n_action_steps=2, hidden_size=32,
                      num_attention_heads=2, num_context_layers=1, num_expert_layers=1, intermediate_size=64,
                      num_flow_steps=3, tokenizer_max_length=12)
        return MAVLAConfig(**{**values, **overrides})

    return make


@pytest.fixture()
def build_policy(demo_root, tiny_config):
    """(policy, preprocessor, postprocessor, dataset metadata) built the way lerobot-train builds them."""
    from lerobot.datasets.lerobot_dataset import LeRobotDatasetMetadata
    from lerobot.policies.factory import make_policy, make_pre_post_processors

    def make(**overrides):
        meta = LeRobotDatasetMetadata(REPO_ID, root=demo_root)
        config = tiny_config(**overrides)
        policy = make_policy(config, ds_meta=meta)
        pre, post = make_pre_post_processors(config, dataset_stats=meta.stats)
        return policy, pre, post, meta

    return make
