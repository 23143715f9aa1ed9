"""MetaWorld 3.1.1 tasks as a gymnasium env with RGB, metric depth, camera intrinsics and experts.

One observation: `pixels` {camera: (H, W, 3) uint8}, `depth` {camera: (H, W, 1) float32 metres,
MuJoCo z-depth}, `agent_pos` (4,) float32 = end-effector xyz (m) + gripper opening. The goal
and object positions are NOT in the state: the policy must see them (as in LeRobot's MetaWorld).
Episodes are seeded: `reset(seed=s)` draws the object and goal positions from `s`, so two
policies evaluated on the same seeds face the same scenes.
"""

from __future__ import annotations

import json
import math
import os
from importlib import resources

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen on a machine without a display

import gymnasium as gym  # noqa: E402
from gymnasium import spaces  # noqa: E402

from ma_vlm.errors import MaVlmInputError  # noqa: E402

DEFAULT_CAMERA = "corner4"  # LeRobot's MetaWorld view (its corner2 moved to corner4's position)
STATE_DIM = 4
ACTION_DIM = 4


def task_descriptions() -> dict[str, str]:
    """MetaWorld v3 task name -> instruction, from LeRobot's own table."""
    text = resources.files("lerobot.envs").joinpath("metaworld_config.json").read_text()
    return json.loads(text)["TASK_DESCRIPTIONS"]


def check_tasks(tasks: list[str] | None) -> list[str]:
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE

    if not tasks:
        raise MaVlmInputError("--env metaworld needs --tasks: comma-separated MetaWorld v3 tasks, e.g. reach-v3,push-v3")
    known = sorted(name.removesuffix("-goal-observable") for name in ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE)
    for task in tasks:
        if task not in known:
            hint = f" (v2 names are gone in metaworld 3; try {task[:-3]}-v3)" if task.endswith("-v2") else ""
            raise MaVlmInputError(f"unknown MetaWorld task {task!r}{hint}; known: {', '.join(known)}")
    return tasks


def intrinsics_from_fovy(fovy_deg: float, width: int, height: int) -> list[float]:
    """[fx, fy, cx, cy] pixels of a MuJoCo camera: fy = H / (2 tan(fovy/2)), square pixels, centred."""
    fy = height / (2 * math.tan(math.radians(fovy_deg) / 2))
    return [fy, fy, width / 2, height / 2]


class MetaWorldRGBDEnv(gym.Env):
    """One MetaWorld task, rendered offscreen (shadows, reflections and multisampling off:
    ~2x faster on the CPU; the pictures lose little at 96 px)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 80}
    # what `ma_vlm.vla.environments` reads to record and evaluate this env
    fps = 80  # frame_skip 5 x timestep 2.5 ms
    robot_type = "sawyer"
    default_camera = DEFAULT_CAMERA
    state_names = ["hand_x_m", "hand_y_m", "hand_z_m", "gripper"]
    action_names = ["dx", "dy", "dz", "grip"]
    demo_steps, eval_steps = 200, 120
    check_tasks = staticmethod(check_tasks)

    def __init__(self, task: str, image_size: int = 96, camera: str = DEFAULT_CAMERA,
                 max_episode_steps: int = 200, with_depth: bool = True):
        super().__init__()
        import mujoco
        from metaworld.env_dict import ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE

        check_tasks([task])
        self.task = task
        self.task_description = task_descriptions()[task]
        self.camera, self.image_size, self.with_depth = camera, image_size, with_depth
        self._max_episode_steps = max_episode_steps
        self._env = ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE[f"{task}-goal-observable"](seed=0)
        self._env.max_path_length = max(self._env.max_path_length, max_episode_steps)
        model = self._env.model
        model.light_castshadow[:] = 0
        model.mat_reflectance[:] = 0
        model.vis.quality.offsamples = 0
        camera_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
        if camera_id < 0:
            raise MaVlmInputError(f"MetaWorld has no camera {camera!r}; use corner, corner2, corner3, corner4 or behindGripper")
        self.intrinsics = intrinsics_from_fovy(float(model.cam_fovy[camera_id]), image_size, image_size)
        self._renderer = mujoco.Renderer(model, image_size, image_size)
        self._steps = 0
        pixels = spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
        spaces_dict = {
            "pixels": spaces.Dict({camera: pixels}),
            "agent_pos": spaces.Box(-10, 10, (STATE_DIM,), np.float32),
        }
        if with_depth:
            spaces_dict["depth"] = spaces.Dict({camera: spaces.Box(0, np.inf, (image_size, image_size, 1), np.float32)})
        self.observation_space = spaces.Dict(spaces_dict)
        self.action_space = spaces.Box(-1, 1, (ACTION_DIM,), np.float32)

    def expert(self):
        """The task's scripted expert shipped with metaworld: `expert()` -> the next action (4,) float32."""
        from metaworld.policies import ENV_POLICY_MAP

        policy = ENV_POLICY_MAP[self.task]()
        return lambda: np.clip(policy.get_action(self.raw_obs), -1, 1).astype(np.float32)

    def _render(self, depth: bool) -> np.ndarray:
        if depth:
            self._renderer.enable_depth_rendering()
        self._renderer.update_scene(self._env.data, camera=self.camera)
        image = self._renderer.render()
        if depth:
            self._renderer.disable_depth_rendering()
        return np.ascontiguousarray(image[::-1, ::-1])  # this camera is upside down; a 180° turn keeps cx, cy

    def _observation(self, raw_obs: np.ndarray) -> dict:
        self.raw_obs = raw_obs  # the full 39-d MetaWorld state, for the expert only
        observation = {"pixels": {self.camera: self._render(False)}, "agent_pos": raw_obs[:STATE_DIM].astype(np.float32)}
        if self.with_depth:
            observation["depth"] = {self.camera: self._render(True)[..., None].astype(np.float32)}
        return observation

    def reset(self, seed: int | None = None, options=None):
        super().reset(seed=seed)
        self._env._freeze_rand_vec = False
        self._env.seeded_rand_vec = True
        if seed is not None:
            self._env.seed(seed)
        raw_obs, _ = self._env.reset()
        self._steps = 0
        return self._observation(raw_obs), {"is_success": False}

    def step(self, action):
        raw_obs, reward, _, truncated, info = self._env.step(np.asarray(action, dtype=np.float32))
        self._steps += 1
        success = bool(info.get("success", 0))
        truncated = truncated or self._steps >= self._max_episode_steps
        info = {"is_success": success, "task": self.task}
        return self._observation(raw_obs), float(reward), success, truncated, info

    def render(self) -> np.ndarray:
        return self._render(False)

    def close(self):
        self._renderer.close()
        self._env.close()
