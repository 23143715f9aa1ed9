"""`ma_metaworld`: a LeRobot env type for MetaWorld 3.1.1 (v3 tasks), for `lerobot-eval`.

LeRobot 0.6.1's own `metaworld` env defaults to the removed `-v2` names and its extra resolves a
broken set of pins; this one wraps `MetaWorldRGBDEnv` (same camera, image size and seeds as
`ma-vlm vla demos`), so a policy trained on those demos is evaluated on the scenes it knows.
`--env.task` takes one task or a comma-separated list; each becomes a suite of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym
from lerobot.configs import FeatureType, PolicyFeature
from lerobot.envs.configs import EnvConfig
from lerobot.utils.constants import ACTION, OBS_STATE

from ma_vlm.vla.features import image_key
from ma_vlm.vla.metaworld_env import ACTION_DIM, DEFAULT_CAMERA, STATE_DIM, MetaWorldRGBDEnv, check_tasks


@EnvConfig.register_subclass("ma_metaworld")
@dataclass
class MAMetaWorldEnv(EnvConfig):
    task: str = "reach-v3"
    fps: int = 80
    episode_length: int = 120
    image_size: int = 96
    camera: str = DEFAULT_CAMERA
    features: dict[str, PolicyFeature] = field(default_factory=dict)
    features_map: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        pixels = f"pixels/{self.camera}"
        self.features = {
            ACTION: PolicyFeature(type=FeatureType.ACTION, shape=(ACTION_DIM,)),
            "agent_pos": PolicyFeature(type=FeatureType.STATE, shape=(STATE_DIM,)),
            pixels: PolicyFeature(type=FeatureType.VISUAL, shape=(self.image_size, self.image_size, 3)),
        }
        self.features_map = {ACTION: ACTION, "agent_pos": OBS_STATE, pixels: image_key(self.camera)}

    @property
    def gym_kwargs(self) -> dict:
        return {"image_size": self.image_size, "camera": self.camera, "max_episode_steps": self.episode_length, "with_depth": False}

    def create_envs(self, n_envs: int, use_async_envs: bool = False):
        tasks = check_tasks([task.strip() for task in self.task.split(",") if task.strip()])
        vector_class = gym.vector.AsyncVectorEnv if use_async_envs and n_envs > 1 else gym.vector.SyncVectorEnv
        kwargs = self.gym_kwargs
        envs = {}
        for task in tasks:
            makers = [lambda task=task: MetaWorldRGBDEnv(task, **kwargs) for _ in range(n_envs)]
            envs[task] = {0: vector_class(makers, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)}
        return envs
