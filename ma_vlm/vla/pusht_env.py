"""gym-pusht 0.1.8's PushT as a gymnasium env with RGB, metric depth, intrinsics and a scripted expert.

PushT is a 2D scene: a disk (the agent, radius 15) pushes a T-shaped block onto a fixed target
pose; an action is the agent's target position (x, y) in [0, 512]. The block has no momentum
(gym-pusht sets the space's damping to 0: velocities vanish every physics step) and every contact
is frictionless, so a push at a boundary point moves the block along that point's inward normal
and turns it by the push's moment arm. Success: the block covers > 95 % of the target's area.

One observation: `pixels` {camera: (H, W, 3) uint8}, `depth` {camera: (H, W, 1) float32 metres},
`agent_pos` (2,) float32 = agent xy in workspace units (LeRobot's pusht state). `reset(seed=s)`
draws the agent and block poses from `s`.

Depth comes from a declared camera, since gym-pusht draws a 2D picture: one workspace unit is
1 mm (the workspace is a 0.512 m square), the block and the agent are 30 mm tall prisms
(`OBJECT_HEIGHT_M`), and a pinhole camera looks straight down from 2 m above the workspace centre
(`CAMERA_HEIGHT_M`), its field of view just covering the workspace. gym-pusht's picture is an
orthographic top view; at 2 m the perspective moves the block's top edge by at most 0.45 px from
its footprint (96 px frames, block in the reset area 100-400), so the depth map and the RGB frame
agree to half a pixel. Recording depth keeps the policy path the same as MetaWorld's: token-depth
distillation runs on the scene's true geometry (a flat table with 30 mm objects: little to learn,
and that is the truth of a top view), where the alternative, a frozen depth teacher run on a flat
cartoon, would distil depth that no camera measured.
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import gymnasium as gym  # noqa: E402
from gymnasium import spaces  # noqa: E402

from ma_vlm.errors import MaVlmInputError  # noqa: E402
from ma_vlm.geometry import centred_intrinsics  # noqa: E402

TASK = "pusht"
TASK_DESCRIPTION = "Push the T-shaped block onto the target"
DEFAULT_CAMERA = "top"
STATE_DIM = 2
ACTION_DIM = 2
WORKSPACE = 512.0  # gym-pusht's workspace side and action range, in its units
AGENT_RADIUS = 15.0  # gym-pusht's agent disk, workspace units
METRES_PER_WORKSPACE_UNIT = 1e-3
CAMERA_HEIGHT_M = 2.0
OBJECT_HEIGHT_M = 0.03


def _gym_pusht():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # pygame's pkg_resources deprecation notice
            from gym_pusht.envs.pusht import PushTEnv
    except ImportError as error:
        raise MaVlmInputError(
            f"PushT needs gym-pusht ({error}); `make setup` installs it, or run "
            "`uv pip install 'pygame>=2.5.2,<2.7' 'pymunk>=6.6,<7' 'shapely>=2.0.3,<3'` then "
            "`uv pip install --no-deps gym-pusht==0.1.8` (its opencv-python would sit beside LeRobot's "
            "opencv-python-headless in one cv2 folder)"
        ) from error
    return PushTEnv


def check_tasks(tasks: list[str] | None) -> list[str]:
    """PushT has one task; `--tasks` is for MetaWorld."""
    if tasks:
        raise MaVlmInputError(f"--env pusht has one fixed task ({TASK_DESCRIPTION!r}); drop --tasks (got {tasks})")
    return [TASK]


def overhead_intrinsics(image_size: int) -> list[float]:
    """[fx, fy, cx, cy] pixels of the declared overhead camera (ma_vlm.geometry's convention:
    pixel centres at integer coordinates): the workspace fills the frame."""
    focal = image_size * CAMERA_HEIGHT_M / (WORKSPACE * METRES_PER_WORKSPACE_UNIT)
    return centred_intrinsics(focal, image_size, image_size)


def _rotation(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


class PushTRGBDEnv(gym.Env):
    """gym-pusht's PushT with the observation layout of `MetaWorldRGBDEnv` and a coverage in `info`."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    # what `ma_vlm.vla.environments` reads to record and evaluate this env
    fps = 10  # gym-pusht's control rate
    robot_type = "pusht_disk"
    default_camera = DEFAULT_CAMERA
    state_names = ["agent_x", "agent_y"]  # workspace units (mm)
    action_names = ["target_x", "target_y"]  # the agent's next position, workspace units
    demo_steps = eval_steps = 300  # as gym-pusht's registered PushT-v0
    check_tasks = staticmethod(check_tasks)

    def __init__(self, task: str = TASK, image_size: int = 96, camera: str = DEFAULT_CAMERA,
                 max_episode_steps: int = 300, with_depth: bool = True):
        super().__init__()
        if task != TASK:
            raise MaVlmInputError(f"PushT has one task, {TASK!r}; got {task!r}")
        if camera != DEFAULT_CAMERA:
            raise MaVlmInputError(f"PushT has one camera, {DEFAULT_CAMERA!r} (a top view); got {camera!r}")
        self.task, self.task_description = TASK, TASK_DESCRIPTION
        self.camera, self.image_size, self.with_depth = camera, image_size, with_depth
        self._max_episode_steps = max_episode_steps
        self._env = _gym_pusht()(obs_type="pixels_agent_pos", render_mode="rgb_array",
                                 observation_width=image_size, observation_height=image_size)
        self.intrinsics = overhead_intrinsics(image_size)
        self._steps = 0
        spaces_dict = {
            "pixels": spaces.Dict({camera: spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)}),
            "agent_pos": spaces.Box(0, WORKSPACE, (STATE_DIM,), np.float32),
        }
        if with_depth:
            spaces_dict["depth"] = spaces.Dict({camera: spaces.Box(0, np.inf, (image_size, image_size, 1), np.float32)})
        self.observation_space = spaces.Dict(spaces_dict)
        self.action_space = spaces.Box(0, WORKSPACE, (ACTION_DIM,), np.float32)

    def expert(self):
        """A fresh scripted expert for one episode: `expert()` -> the next action (2,) float32."""
        policy = PushTExpert()
        return lambda: policy.action(self._env)

    def _observation(self, raw: dict) -> dict:
        observation = {"pixels": {self.camera: raw["pixels"]}, "agent_pos": raw["agent_pos"].astype(np.float32)}
        if self.with_depth:
            observation["depth"] = {self.camera: self.depth()}
        return observation

    def depth(self) -> np.ndarray:
        """(H, W, 1) float32 metres: z-depth of the declared overhead camera (module docstring)."""
        import shapely

        fx, fy, cx, cy = self.intrinsics
        pixels = np.arange(self.image_size)  # pixel centres (ma_vlm.geometry)
        # where each pixel's ray crosses the plane of the objects' tops, in workspace units
        top_m = CAMERA_HEIGHT_M - OBJECT_HEIGHT_M
        x = WORKSPACE / 2 + (pixels - cx) / fx * top_m / METRES_PER_WORKSPACE_UNIT
        y = WORKSPACE / 2 + (pixels - cy) / fy * top_m / METRES_PER_WORKSPACE_UNIT
        x, y = np.meshgrid(x, y)
        on_block = shapely.contains_xy(block_polygon(self._env.block), x, y)
        agent = np.asarray(self._env.agent.position)
        on_agent = (x - agent[0]) ** 2 + (y - agent[1]) ** 2 <= AGENT_RADIUS**2
        depth = np.where(on_block | on_agent, top_m, CAMERA_HEIGHT_M)
        return depth[..., None].astype(np.float32)

    def reset(self, seed: int | None = None, options=None):
        super().reset(seed=seed)
        raw, _ = self._env.reset(seed=seed)
        self._steps = 0
        return self._observation(raw), {"is_success": False, "coverage": self._env._get_coverage()}

    def step(self, action):
        raw, _, success, _, info = self._env.step(np.asarray(action, dtype=np.float64))
        self._steps += 1
        coverage = float(info["coverage"])
        truncated = self._steps >= self._max_episode_steps
        info = {"is_success": bool(success), "coverage": coverage, "task": self.task}
        return self._observation(raw), coverage, bool(success), truncated, info

    def render(self) -> np.ndarray:
        return self._env._render()

    def close(self):
        self._env.close()


def block_polygon(block, pose: tuple[np.ndarray, float] | None = None):
    """The T's outline as one shapely polygon, in world units (or at `pose` = (origin xy, angle))."""
    import shapely

    origin, angle = (np.asarray(block.position), block.angle) if pose is None else pose
    rotation = _rotation(angle)
    parts = [shapely.Polygon([origin + rotation @ np.asarray(v) for v in shape.get_vertices()]) for shape in block.shapes]
    return shapely.union_all(parts)


class PushTExpert:
    """Pushes the T toward its target pose: choose a contact, walk around the block to it, push.

    Each step scores points on the T's outline (every `spacing` units, with their outward normals)
    by how well a push there would move the block toward the target: a frictionless push along
    the inward normal d at a point r from the block's centre of mass gives the block a twist
    (d / m, (r x d) / I); its cosine with the remaining error (translation, rotation scaled by the
    radius of gyration) is the score. Points the agent cannot stand behind (the T's inner
    corners, the walls) are left out. The agent then goes to the chosen point's approach position
    (a few units off the outline), going round the block's convex hull when the straight way
    would touch it, and pushes by a distance proportional to the error the push can remove. It
    keeps its contact while the score stays good, which avoids walking round the block at each step.

    Measured (gym-pusht 0.1.8, 300 steps at most, the episode ends on success): seeds 0-19, 20/20
    successes, mean highest coverage 0.959; seeds 0-199, 200/200 in 81 steps on average (156 at
    most); seeds 1000-1099, 100/100. A random policy (a uniform target in [0, 512]^2 each step)
    on seeds 0-19: 0/20, mean highest coverage 0.064 (seeds 0-199: 0/200, 0.096).
    """

    def __init__(self, spacing: float = 5.0, clearance: float = 5.0, keep_score: float = 0.35,
                 switch_margin: float = 0.3, waypoint_step: float = 60.0):
        self.spacing, self.clearance = spacing, clearance
        self.keep_score, self.switch_margin, self.waypoint_step = keep_score, switch_margin, waypoint_step
        self._contacts = None  # block-frame points (K, 2), outward normals (K, 2), standable (K,)
        self._current, self._pushing = None, False

    def _outline(self, block):
        """Points every `spacing` units on the T's outline, their outward normals (block frame), and
        whether the agent fits behind each (not in the T's inner corners)."""
        import shapely

        outline = shapely.geometry.polygon.orient(block_polygon(block, (np.zeros(2), 0.0)), 1.0)  # counter-clockwise
        corners = np.asarray(outline.exterior.coords)
        points, normals = [], []
        for start, end in zip(corners[:-1], corners[1:]):
            edge = end - start
            length = float(np.linalg.norm(edge))
            tangent = edge / length
            for distance in np.arange(3.0, length - 2.9, self.spacing):
                points.append(start + tangent * distance)
                normals.append([tangent[1], -tangent[0]])  # outward for a counter-clockwise outline
        points, normals = np.array(points), np.array(normals)
        stand = points + normals * (AGENT_RADIUS + self.clearance)
        standable = shapely.distance(outline, shapely.points(stand)) > AGENT_RADIUS + self.clearance - 0.5
        return points, normals, standable

    @staticmethod
    def _pose_error(env) -> tuple[np.ndarray, np.ndarray, float]:
        """(block centre of mass xy, wanted motion [dx, dy, gyration * dtheta], radius of gyration)."""
        block = env.block
        centre_local = np.asarray(block.center_of_gravity)
        centre = np.asarray(block.position) + _rotation(block.angle) @ centre_local
        goal = np.asarray(env.goal_pose, dtype=float)  # the target's body origin xy and angle
        goal_centre = goal[:2] + _rotation(goal[2]) @ centre_local
        turn = (goal[2] - block.angle + math.pi) % (2 * math.pi) - math.pi
        gyration = math.sqrt(block.moment / block.mass)
        return centre, np.array([*(goal_centre - centre), gyration * turn]), gyration

    def action(self, env) -> np.ndarray:
        """The agent's next target (2,) float32 for gym-pusht's `PushTEnv` in its current state."""
        block = env.block
        if self._contacts is None:
            self._contacts = self._outline(block)
        points_local, normals_local, standable = self._contacts
        rotation = _rotation(block.angle)
        points = np.asarray(block.position) + points_local @ rotation.T
        normals = normals_local @ rotation.T
        centre, wanted, gyration = self._pose_error(env)

        push = -normals
        arm = points - centre
        moment = arm[:, 0] * push[:, 1] - arm[:, 1] * push[:, 0]
        twist = np.column_stack([push / block.mass, gyration * moment / block.moment])
        score = twist @ wanted / (np.linalg.norm(twist, axis=1) * np.linalg.norm(wanted) + 1e-9)
        stand = points + normals * (AGENT_RADIUS + self.clearance)
        margin = AGENT_RADIUS + 8  # keep off the walls
        reachable = standable & np.all((stand > margin) & (stand < WORKSPACE - margin), axis=1)
        score = np.where(reachable, score, -np.inf)

        agent = np.asarray(env.agent.position)
        best, current = int(np.argmax(score)), self._current
        if current is None or score[current] < max(self.keep_score, score[best] - self.switch_margin):
            self._current, self._pushing = best, False
        elif self._pushing and np.linalg.norm(agent - (points[current] + normals[current] * AGENT_RADIUS)) > 20:
            self._pushing = False  # slid off the contact: walk back to it
        k = self._current
        if not self._pushing:
            if np.linalg.norm(agent - stand[k]) >= 3.0:
                return self._clip(self._walk(agent, stand[k], block))
            self._pushing = True
        # the push, seen at the contact point, that removes the error along this contact's twist
        gain = (twist[k] @ wanted) / (twist[k] @ twist[k])
        depth = float(np.clip(gain * (1 / block.mass + moment[k] ** 2 / block.moment), 1.0, 25.0))
        return self._clip(points[k] + normals[k] * (AGENT_RADIUS - depth))

    def _walk(self, agent: np.ndarray, target: np.ndarray, block) -> np.ndarray:
        """The next waypoint toward `target` that keeps the agent off the block."""
        import shapely

        outline = block_polygon(block)
        heading = target - agent
        distance = float(np.linalg.norm(heading))
        start = agent + heading / max(distance, 1e-9) * min(5.0, distance)  # leave a contact it is touching
        if shapely.LineString([start, target]).distance(outline) > AGENT_RADIUS + 1.0 or distance < 5.0:
            return target
        ring = outline.convex_hull.buffer(AGENT_RADIUS + self.clearance + 8, quad_segs=4).exterior
        here, there = ring.project(shapely.Point(agent)), ring.project(shapely.Point(target))
        ahead = (there - here) % ring.length
        if min(ahead, ring.length - ahead) <= self.waypoint_step:
            return np.asarray(ring.interpolate(there).coords[0])
        step = self.waypoint_step if ahead < ring.length / 2 else -self.waypoint_step
        return np.asarray(ring.interpolate((here + step) % ring.length).coords[0])

    @staticmethod
    def _clip(target: np.ndarray) -> np.ndarray:
        return np.clip(target, 0.0, WORKSPACE).astype(np.float32)
