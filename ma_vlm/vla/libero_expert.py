"""A scripted pick-and-place expert for LIBERO "pick up X and place it on/in Y" tasks.

It reads privileged state: the goal `(On object target)` from the task's BDDL, the object's and the
target's poses and the object's collision geoms from the simulator. It grasps a bowl by its rim
(the fingers close along world y, so it pinches the rim wall at the +y or -y side, whichever is
farther from the other objects), lifts, carries the grasp point over the target, lowers, opens and
backs off. Actions are OSC_POSE deltas: a proportional step towards each waypoint (1 = 5 cm, the
controller's output_max) and a rotation back to the gripper's starting orientation.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

POSITION_SCALE_M = 0.05  # OSC_POSE output_max: action 1 = 5 cm
ROTATION_SCALE_RAD = 0.5
GAIN = 0.7  # fraction of the remaining distance asked for per step (the controller lags behind)
SPEED_LIMIT = 0.6  # largest position action: ~3 cm per step
HOVER_M = 0.12  # clearance above the grasp point and the target
PINCH_DEPTH_M = 0.015  # how far below the rim top the finger tips close
RELEASE_CLEARANCE_M = 0.015  # drop height of the object's bottom above the target's top
OPEN, CLOSED = -1.0, 1.0


class PickPlaceExpert:
    """`expert()` -> the next action (7,) float32 for the env's current state (call after reset/step)."""

    def __init__(self, env):
        self.env = env
        self.phase, self.phase_steps, self._plan = 0, 0, None

    def _plan_waypoints(self) -> list[tuple[np.ndarray, float, int]]:
        """[(eef target xyz m, gripper command, steps to hold after reaching)] for the whole task."""
        inner = self.env.scene
        goal = [atom for atom in inner.parsed_problem["goal_state"] if atom[0].lower() in ("on", "in")]
        if not goal:
            raise ValueError(f"the scripted expert handles pick-and-place goals; {self.env.task} asks for "
                             f"{inner.parsed_problem['goal_state']}")
        _, object_name, target_name = goal[0]
        data, model = self.env.data, self.env.model
        object_body = inner.obj_body_id[object_name]
        target_body = inner.obj_body_id[target_name]
        rim_xy, rim_top_z, bottom_z = self._grasp_point(model, data, object_body, inner)
        target_top_z = self._top_z(model, data, target_body)
        grasp = np.array([*rim_xy, rim_top_z - PINCH_DEPTH_M])
        carry = grasp[:2] - data.xpos[object_body][:2]  # grasp point relative to the object's centre
        place_xy = data.xpos[target_body][:2] + carry
        place_z = target_top_z + RELEASE_CLEARANCE_M + (grasp[2] - bottom_z)
        high = max(grasp[2], place_z) + HOVER_M
        return [
            (np.array([*grasp[:2], grasp[2] + HOVER_M]), OPEN, 0),
            (grasp, OPEN, 2),
            (grasp, CLOSED, 12),
            (np.array([*grasp[:2], high]), CLOSED, 0),
            (np.array([*place_xy, high]), CLOSED, 0),
            (np.array([*place_xy, place_z]), CLOSED, 2),
            (np.array([*place_xy, place_z]), OPEN, 10),
            (np.array([*place_xy, high]), OPEN, 1000),
        ]

    @staticmethod
    def _collision_geoms(model, body: int) -> np.ndarray:
        return np.flatnonzero((model.body_rootid[model.geom_bodyid] == body) & (model.geom_contype > 0))

    def _top_z(self, model, data, body: int) -> float:
        geoms = self._collision_geoms(model, body)
        if not len(geoms):
            return float(data.xpos[body][2])
        return float(max(data.geom_xpos[g, 2] + self._half_height(model, data, g) for g in geoms))

    def _grasp_point(self, model, data, body: int, inner) -> tuple[np.ndarray, float, float]:
        """(xy of the rim point to pinch, rim top z, object bottom z), metres."""
        geoms = self._collision_geoms(model, body)
        centre = data.xpos[body]
        positions = data.geom_xpos[geoms]
        radius = float(np.max(np.linalg.norm(positions[:, :2] - centre[:2], axis=1)))
        heights = np.array([self._half_height(model, data, g) for g in geoms])
        rim_top = float(np.max(positions[:, 2] + heights))
        bottom = float(np.min(positions[:, 2] - heights))
        candidates = [centre[:2] + np.array([0.0, sign * radius]) for sign in (1.0, -1.0)]
        clearance = [self._clearance(model, data, point, body, bottom, inner) for point in candidates]
        return candidates[int(np.argmax(clearance))], rim_top, bottom

    def _clearance(self, model, data, point_xy, body: int, bottom_z: float, inner) -> float:
        """Horizontal room (m) around `point_xy` among the other objects' collision geoms that rise
        above `bottom_z` (a tall cabinet next to the bowl blocks the hand; a flat plate does not)."""
        room = 1.0
        for other in inner.obj_body_id.values():
            if other == body:
                continue
            for geom in self._collision_geoms(model, other):
                if data.geom_xpos[geom, 2] + self._half_height(model, data, geom) < bottom_z + 0.03:
                    continue
                gap = np.linalg.norm(data.geom_xpos[geom, :2] - point_xy) - model.geom_rbound[geom]
                room = min(room, float(gap))
        return room

    @staticmethod
    def _half_height(model, data, geom: int) -> float:
        """Vertical half-extent of a box geom in the world (other shapes: their bounding radius)."""
        if model.geom_type[geom] != 6:  # mjGEOM_BOX
            return float(model.geom_rbound[geom])
        rotation = data.geom_xmat[geom].reshape(3, 3)
        return float(np.abs(rotation[2]) @ model.geom_size[geom])

    def __call__(self) -> np.ndarray:
        raw = self.env.raw_obs
        if self._plan is None:
            self._plan = self._plan_waypoints()
            self._start_rotation = Rotation.from_quat(raw["robot0_eef_quat"])  # (x, y, z, w), as robosuite
        target, gripper, hold = self._plan[self.phase]
        error = target - raw["robot0_eef_pos"]
        reached = np.linalg.norm(error) < (0.01 if hold else 0.02)
        if reached or self.phase_steps > 0:
            self.phase_steps += 1
            if self.phase_steps > hold and self.phase < len(self._plan) - 1:
                self.phase, self.phase_steps = self.phase + 1, 0
        move = np.clip(GAIN * error / POSITION_SCALE_M, -SPEED_LIMIT, SPEED_LIMIT)
        turn = (self._start_rotation * Rotation.from_quat(raw["robot0_eef_quat"]).inv()).as_rotvec()
        turn = np.clip(turn / ROTATION_SCALE_RAD, -1, 1)
        return np.concatenate([move, turn, [gripper]]).astype(np.float32)


def expert_successes(task: str, seeds: list[int], max_steps: int = 280) -> list[tuple[bool, int]]:
    """(success, steps) of the expert from each official initial state in `seeds`, without rendering
    (the expert reads only the simulator state), for measuring it on a suite."""
    from ma_vlm.vla.libero_env import LiberoRGBDEnv

    env = LiberoRGBDEnv(task, max_episode_steps=max_steps, cameras=(), with_depth=False)
    results = []
    try:
        for seed in seeds:
            env.reset(seed=seed)
            expert, steps, done, truncated = env.expert(), 0, False, False
            while not (done or truncated):
                _, _, done, truncated, info = env.step(expert())
                steps += 1
            results.append((bool(info["is_success"]), steps))
    finally:
        env.close()
    return results
