"""The simulated environments `ma-vlm vla demos` and `ma-vlm vla eval` run, by name.

Each is a gymnasium env with the same observation layout (`pixels` and `depth` per camera,
`agent_pos`), `intrinsics`, `task_description`, a scripted `expert()`, and class attributes that
describe its dataset: `fps`, `robot_type`, `default_camera`, `state_names`, `action_names`, the
episode lengths `demo_steps` / `eval_steps`, and `check_tasks(tasks)` -> the tasks to run.
An env with several cameras also has `camera_intrinsics` {camera: [fx, fy, cx, cy]} (the demos
record each camera), and `keep_failed_demos = False` where failed expert episodes are dropped.
"""

from __future__ import annotations

from ma_vlm.errors import MaVlmInputError

ENV_NAMES = ("metaworld", "pusht", "libero")


def env_class(name: str) -> type:
    """The env class registered as `name` (its simulator is imported only when an env is built)."""
    if name == "metaworld":
        from ma_vlm.vla.metaworld_env import MetaWorldRGBDEnv

        return MetaWorldRGBDEnv
    if name == "pusht":
        from ma_vlm.vla.pusht_env import PushTRGBDEnv

        return PushTRGBDEnv
    if name == "libero":
        from ma_vlm.vla.libero_env import LiberoRGBDEnv

        return LiberoRGBDEnv
    raise MaVlmInputError(f"unknown --env {name!r}; choose one of {', '.join(ENV_NAMES)}")
