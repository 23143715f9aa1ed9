"""Record MetaWorld scripted-expert episodes into a local LeRobotDataset (v3).

Each frame: RGB `observation.images.<camera>`, metric depth `observation.depth.<camera>`
(LeRobot's depth-map image: float32 metres in lossless TIFF, `info.depth_unit` "m"; LeRobot
returns it in `depth_output_unit`, millimetres by default), `observation.state`, `action` and
the task text. The camera intrinsics
[fx, fy, cx, cy] (pixels of the stored frames) sit in info.json, in the image feature's `info`.
Episodes are recorded task by task with seeds 0..N-1; a re-run resumes after the last saved
episode (LeRobot appends; our sidecar `meta/ma_vlm_demos.json` remembers what was asked).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ma_vlm.atomic_io import write_text_atomic
from ma_vlm.errors import MaVlmInputError
from ma_vlm.vla.features import ACTION_KEY, INTRINSICS_INFO_KEY, STATE_KEY, depth_key, image_key
from ma_vlm.vla.metaworld_env import ACTION_DIM, DEFAULT_CAMERA, STATE_DIM, MetaWorldRGBDEnv, check_tasks

SIDECAR = "meta/ma_vlm_demos.json"
FPS = 80  # MetaWorld: frame_skip 5 x timestep 2.5 ms


def dataset_features(image_size: int, camera: str, intrinsics: list[float]) -> dict:
    return {
        image_key(camera): {
            "dtype": "image",
            "shape": (image_size, image_size, 3),
            "names": ["height", "width", "channels"],
            "info": {INTRINSICS_INFO_KEY: intrinsics},
        },
        # LeRobot's own depth-map image: lossless float32 TIFF, unit recorded, converted on read
        depth_key(camera): {
            "dtype": "image",
            "shape": (image_size, image_size, 1),
            "names": ["height", "width", "channels"],
            "info": {"is_depth_map": True, "depth_unit": "m"},
        },
        STATE_KEY: {"dtype": "float32", "shape": (STATE_DIM,), "names": ["hand_x_m", "hand_y_m", "hand_z_m", "gripper"]},
        ACTION_KEY: {"dtype": "float32", "shape": (ACTION_DIM,), "names": ["dx", "dy", "dz", "grip"]},
    }


def _open_dataset(root: Path, repo_id: str, request: dict, features: dict):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    sidecar = root / SIDECAR
    if not sidecar.exists():
        if root.exists() and any(root.iterdir()):
            raise MaVlmInputError(f"{root} exists and is not a `ma-vlm vla demos` dataset; choose an empty --root")
        dataset = LeRobotDataset.create(repo_id, FPS, features, root=root, robot_type="sawyer", use_videos=False)
        write_text_atomic(sidecar, json.dumps(request, indent=2))
        return dataset, 0
    previous = json.loads(sidecar.read_text())
    fixed = {key: previous.get(key) for key in ("tasks", "image_size", "camera")}
    if fixed != {key: request[key] for key in fixed}:
        raise MaVlmInputError(f"{root} was recorded with {fixed}; resume with the same --tasks/--image-size/--camera or use another --root")
    if request["episodes"] < previous["episodes"]:
        raise MaVlmInputError(f"{root} already asks for {previous['episodes']} episodes per task; --episodes cannot shrink it")
    write_text_atomic(sidecar, json.dumps(request, indent=2))
    info = json.loads((root / "meta/info.json").read_text())
    done = int(info.get("total_episodes", 0))
    dataset = LeRobotDataset.resume(repo_id, root=root)
    return dataset, done


def episode_plan(tasks: list[str], episodes: int) -> list[tuple[str, int]]:
    """(task, seed) in recording order."""
    return [(task, seed) for task in tasks for seed in range(episodes)]


def record_demos(tasks: list[str], episodes: int, root: str | Path, image_size: int = 96,
                 camera: str = DEFAULT_CAMERA, max_episode_steps: int = 200, repo_id: str = "local/metaworld_ma_vla") -> Path:
    """Record (or finish recording) `episodes` expert episodes per task. Returns the root."""
    tasks, root = check_tasks(list(tasks)), Path(root)
    if episodes < 1:
        raise MaVlmInputError(f"--episodes must be >= 1, got {episodes}")
    request = {"tasks": tasks, "episodes": episodes, "image_size": image_size, "camera": camera}
    plan = episode_plan(tasks, episodes)
    envs = {}
    probe = MetaWorldRGBDEnv(tasks[0], image_size=image_size, camera=camera)
    features = dataset_features(image_size, camera, probe.intrinsics)
    envs[tasks[0]] = probe
    dataset, done = _open_dataset(root, repo_id, request, features)
    successes = []
    try:
        for task, seed in tqdm(plan[done:], desc="expert episodes", initial=done, total=len(plan)):
            env = envs.get(task) or envs.setdefault(task, MetaWorldRGBDEnv(task, image_size=image_size, camera=camera))
            successes.append(_record_episode(dataset, env, seed, max_episode_steps))
    finally:
        dataset.finalize()
        for env in envs.values():
            env.close()
    if successes and not all(successes):
        tqdm.write(f"{len(successes) - sum(successes)} of {len(successes)} expert episodes did not succeed (kept)")
    return root


def _record_episode(dataset, env: MetaWorldRGBDEnv, seed: int, max_episode_steps: int) -> bool:
    expert = env.expert()
    observation, _ = env.reset(seed=seed)
    success = False
    for _ in range(max_episode_steps):
        action = np.clip(expert.get_action(env.raw_obs), -1, 1).astype(np.float32)
        dataset.add_frame({
            image_key(env.camera): observation["pixels"][env.camera],
            depth_key(env.camera): observation["depth"][env.camera],
            STATE_KEY: observation["agent_pos"],
            ACTION_KEY: action,
            "task": env.task_description,
        })
        observation, _, success, truncated, _ = env.step(action)
        if success or truncated:
            break
    dataset.save_episode()
    return success
