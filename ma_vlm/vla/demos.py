"""Record scripted-expert episodes (MetaWorld or PushT) into a local LeRobotDataset (v3).

Each frame: RGB `observation.images.<camera>`, metric depth `observation.depth.<camera>`
(LeRobot's depth-map image: float32 metres in lossless TIFF, `info.depth_unit` "m"; LeRobot
returns it in `depth_output_unit`, millimetres by default), `observation.state`, `action` and
the task text. The camera intrinsics
[fx, fy, cx, cy] (pixels of the stored frames) sit in info.json, in the image feature's `info`.
`with_depth=False` (`--no-depth`) records no depth feature: LeRobot's stock policies (ACT,
Diffusion, VQBeT) count every `observation.depth.*` as one more camera and refuse it.
Episodes are recorded task by task with seeds 0..N-1; a re-run resumes after the last saved
episode (LeRobot appends; our sidecar `meta/ma_vlm_demos.json` remembers what was asked).
The environment (`ma_vlm.vla.environments`) supplies the scenes, the expert and the names.
"""

from __future__ import annotations

import json
from pathlib import Path

from tqdm import tqdm

from ma_vlm.atomic_io import write_text_atomic
from ma_vlm.errors import MaVlmInputError
from ma_vlm.vla.environments import env_class
from ma_vlm.vla.features import ACTION_KEY, INTRINSICS_INFO_KEY, STATE_KEY, depth_key, image_key

SIDECAR = "meta/ma_vlm_demos.json"


def dataset_features(env_type: type, image_size: int, camera: str, intrinsics: list[float], with_depth: bool = True) -> dict:
    features = {
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
        STATE_KEY: {"dtype": "float32", "shape": (len(env_type.state_names),), "names": list(env_type.state_names)},
        ACTION_KEY: {"dtype": "float32", "shape": (len(env_type.action_names),), "names": list(env_type.action_names)},
    }
    if not with_depth:
        del features[depth_key(camera)]
    return features


def _open_dataset(root: Path, repo_id: str, request: dict, features: dict, env_type: type):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    sidecar = root / SIDECAR
    if not sidecar.exists():
        if root.exists() and any(root.iterdir()):
            raise MaVlmInputError(f"{root} exists and is not a `ma-vlm vla demos` dataset; choose an empty --root")
        dataset = LeRobotDataset.create(repo_id, env_type.fps, features, root=root, robot_type=env_type.robot_type,
                                        use_videos=False)
        write_text_atomic(sidecar, json.dumps(request, indent=2))
        return dataset, 0
    # sidecars before PushT had no "env", before --no-depth no "with_depth"
    previous = {"env": "metaworld", "with_depth": True, **json.loads(sidecar.read_text())}
    fixed = {key: previous.get(key) for key in ("env", "tasks", "image_size", "camera", "with_depth")}
    if fixed != {key: request[key] for key in fixed}:
        raise MaVlmInputError(
            f"{root} was recorded with {fixed}; resume with the same --env/--tasks/--image-size/--camera/--no-depth "
            "or use another --root"
        )
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


def record_demos(tasks: list[str] | None, episodes: int, root: str | Path, image_size: int = 96,
                 camera: str | None = None, max_episode_steps: int | None = None, repo_id: str | None = None,
                 env: str = "metaworld", with_depth: bool = True) -> Path:
    """Record (or finish recording) `episodes` expert episodes per task of `env`. Returns the root.

    `tasks`: MetaWorld v3 task names; None for PushT (one task). `camera`, `max_episode_steps` and
    `repo_id` default to the env's camera, its `demo_steps` and `local/<env>_ma_vla`.
    `with_depth=False`: RGB, state and action only (for LeRobot's stock policies).
    """
    env_type = env_class(env)
    tasks, root = env_type.check_tasks(list(tasks or [])), Path(root)
    camera = camera or env_type.default_camera
    max_episode_steps = max_episode_steps or env_type.demo_steps
    repo_id = repo_id or f"local/{env}_ma_vla"
    if episodes < 1:
        raise MaVlmInputError(f"--episodes must be >= 1, got {episodes}")
    request = {"env": env, "tasks": tasks, "episodes": episodes, "image_size": image_size, "camera": camera,
               "with_depth": with_depth}
    plan = episode_plan(tasks, episodes)

    def make(task):
        return env_type(task, image_size=image_size, camera=camera, max_episode_steps=max_episode_steps,
                        with_depth=with_depth)

    envs = {tasks[0]: make(tasks[0])}
    successes = []
    try:
        features = dataset_features(env_type, image_size, camera, envs[tasks[0]].intrinsics, with_depth)
        dataset, done = _open_dataset(root, repo_id, request, features, env_type)
        try:
            for task, seed in tqdm(plan[done:], desc="expert episodes", initial=done, total=len(plan)):
                successes.append(_record_episode(dataset, envs.get(task) or envs.setdefault(task, make(task)), seed))
        finally:
            dataset.finalize()
    finally:
        for one in envs.values():
            one.close()
    if successes and not all(successes):
        tqdm.write(f"{len(successes) - sum(successes)} of {len(successes)} expert episodes did not succeed (kept)")
    return root


def _record_episode(dataset, env, seed: int) -> bool:
    expert = env.expert()
    observation, _ = env.reset(seed=seed)
    success = False
    while True:
        action = expert()
        frame = {
            image_key(env.camera): observation["pixels"][env.camera],
            STATE_KEY: observation["agent_pos"],
            ACTION_KEY: action,
            "task": env.task_description,
        }
        if "depth" in observation:
            frame[depth_key(env.camera)] = observation["depth"][env.camera]
        dataset.add_frame(frame)
        observation, _, success, truncated, _ = env.step(action)
        if success or truncated:
            break
    dataset.save_episode()
    return success
