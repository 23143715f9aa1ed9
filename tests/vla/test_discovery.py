"""`ma_vla` and `ma_metaworld` are found the way lerobot-train / lerobot-eval find plugins: LeRobot
imports every installed distribution named `lerobot_policy_*` / `lerobot_env_*` (no --flags)."""

import importlib.metadata


def test_installed_plugins_register_policy_and_env_without_flags():
    from lerobot.configs import PreTrainedConfig
    from lerobot.envs.configs import EnvConfig
    from lerobot.policies.factory import get_policy_class, make_policy_config
    from lerobot.utils.import_utils import register_third_party_plugins

    names = {dist.metadata["Name"] for dist in importlib.metadata.distributions()}
    assert {"lerobot_policy_ma_vla", "lerobot_env_ma_metaworld"} <= names  # `make setup` installs both
    register_third_party_plugins()  # what lerobot-train / lerobot-eval call before parsing flags
    assert "ma_vla" in PreTrainedConfig.get_known_choices() and "ma_metaworld" in EnvConfig.get_known_choices()
    assert type(make_policy_config("ma_vla", device="cpu")).__name__ == "MAVLAConfig"
    assert get_policy_class("ma_vla").__name__ == "MAVLAPolicy"
    assert EnvConfig.get_choice_class("ma_metaworld")(task="push-v3").features_map["pixels/corner4"] == (
        "observation.images.corner4"
    )


def test_processors_resolve_by_lerobot_naming(tiny_config):
    from lerobot.policies.factory import make_pre_post_processors

    from ma_vlm.vla.processor_ma_vla import MAVLATokenizerStep

    pre, post = make_pre_post_processors(tiny_config())
    assert any(isinstance(step, MAVLATokenizerStep) for step in pre.steps)
