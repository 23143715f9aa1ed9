"""`ma_metaworld`: a LeRobot env type for MetaWorld 3.1.1 (v3 tasks), for `lerobot-eval`.

LeRobot 0.6.1's own `metaworld` env defaults to the removed `-v2` names and its extra resolves a
broken set of pins; this one wraps `MetaWorldRGBDEnv` (same camera, image size and seeds as
`ma-vlm vla demos`), so a policy trained on those demos is evaluated on the scenes it knows.
`--env.task` takes one task or a comma-separated list; each becomes a suite of its own.

`--env.with_depth=true` renders metric depth too, for a policy trained with `depth_input=true`.
LeRobot's `preprocess_observation` keeps top-level arrays only, so the env hands the camera's depth
over as one array (`observation.depth`) and the env processor step `MetaWorldDepthStep` names it
per camera, channel first, in the unit LeRobot datasets return (`--env.depth_unit`, the policy's
`depth_unit`): the depth the policy reads under lerobot-eval is the depth it was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym
from gymnasium import spaces
from lerobot.configs import FeatureType, PipelineFeatureType, PolicyFeature
from lerobot.envs.configs import EnvConfig
from lerobot.processor import ObservationProcessorStep, PolicyProcessorPipeline, ProcessorStepRegistry
from lerobot.utils.constants import ACTION, OBS_STATE, OBS_STR

from ma_vlm.errors import MaVlmInputError
from ma_vlm.vla.features import DEPTH_UNIT, METRES_PER_UNIT, depth_key, image_key
from ma_vlm.vla.metaworld_env import ACTION_DIM, DEFAULT_CAMERA, STATE_DIM, MetaWorldRGBDEnv, check_tasks

DEPTH_OBSERVATION = "depth"  # the env's top-level depth array; preprocess_observation makes it ENV_DEPTH_KEY
ENV_DEPTH_KEY = f"{OBS_STR}.{DEPTH_OBSERVATION}"


class DepthAsArray(gym.ObservationWrapper):
    """`depth` {camera: (H, W, 1) metres} -> `depth` (H, W, 1) metres, the env's one camera."""

    def __init__(self, env: MetaWorldRGBDEnv):
        super().__init__(env)
        self.observation_space = spaces.Dict({
            **env.observation_space.spaces, DEPTH_OBSERVATION: env.observation_space[DEPTH_OBSERVATION][env.camera]
        })

    def observation(self, observation: dict) -> dict:
        return {**observation, DEPTH_OBSERVATION: observation[DEPTH_OBSERVATION][self.env.camera]}


@ProcessorStepRegistry.register(name="ma_metaworld_depth")
@dataclass
class MetaWorldDepthStep(ObservationProcessorStep):
    """`observation.depth` (B, H, W, 1) metres -> `observation.depth.<camera>` (B, 1, H, W) in
    `depth_unit`, the layout and unit a LeRobot dataset returns; an observation without depth passes."""

    camera: str = DEFAULT_CAMERA
    depth_unit: str = DEPTH_UNIT

    def observation(self, observation: dict) -> dict:
        if ENV_DEPTH_KEY not in observation:
            return observation
        observation = dict(observation)
        depth_m = observation.pop(ENV_DEPTH_KEY)
        observation[depth_key(self.camera)] = depth_m.permute(0, 3, 1, 2) / METRES_PER_UNIT[self.depth_unit]
        return observation

    def transform_features(self, features: dict[PipelineFeatureType, dict[str, PolicyFeature]]):
        observation = dict(features.get(PipelineFeatureType.OBSERVATION, {}))
        if ENV_DEPTH_KEY in observation:
            height, width, channels = observation.pop(ENV_DEPTH_KEY).shape
            observation[depth_key(self.camera)] = PolicyFeature(type=FeatureType.VISUAL, shape=(channels, height, width))
        return {**features, PipelineFeatureType.OBSERVATION: observation}


@EnvConfig.register_subclass("ma_metaworld")
@dataclass
class MAMetaWorldEnv(EnvConfig):
    task: str = "reach-v3"
    fps: int = 80
    episode_length: int = 120
    image_size: int = 96
    camera: str = DEFAULT_CAMERA
    with_depth: bool = False  # render metric depth (a policy trained with depth_input=true reads it)
    depth_unit: str = DEPTH_UNIT  # unit of the depth handed to the policy: its config's depth_unit
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
        if self.with_depth:
            shape = (self.image_size, self.image_size, 1)
            self.features[DEPTH_OBSERVATION] = PolicyFeature(type=FeatureType.VISUAL, shape=shape)
            self.features_map[DEPTH_OBSERVATION] = depth_key(self.camera)
        if self.depth_unit not in METRES_PER_UNIT:
            raise MaVlmInputError(f"--env.depth_unit must be one of {sorted(METRES_PER_UNIT)}, got {self.depth_unit!r}")

    @property
    def gym_kwargs(self) -> dict:
        return {"image_size": self.image_size, "camera": self.camera, "max_episode_steps": self.episode_length,
                "with_depth": self.with_depth}

    def get_env_processors(self):
        """LeRobot's eval loop runs this before the policy's preprocessor (as for its LIBERO env)."""
        step = MetaWorldDepthStep(camera=self.camera, depth_unit=self.depth_unit)
        return PolicyProcessorPipeline(steps=[step]), PolicyProcessorPipeline(steps=[])

    def create_envs(self, n_envs: int, use_async_envs: bool = False):
        tasks = check_tasks([task.strip() for task in self.task.split(",") if task.strip()])
        vector_class = gym.vector.AsyncVectorEnv if use_async_envs and n_envs > 1 else gym.vector.SyncVectorEnv
        kwargs = self.gym_kwargs
        envs = {}
        wrap = DepthAsArray if self.with_depth else (lambda env: env)
        for task in tasks:
            makers = [lambda task=task: wrap(MetaWorldRGBDEnv(task, **kwargs)) for _ in range(n_envs)]
            envs[task] = {0: vector_class(makers, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)}
        return envs
