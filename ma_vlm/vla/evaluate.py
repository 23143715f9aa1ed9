"""Closed-loop evaluation of a trained `ma_vla` policy (MetaWorld or PushT): success rate per
task, control latency, and GIFs of a few episodes; PushT adds the block's coverage of its target.

Seeds `seed_start .. seed_start + episodes - 1` fix the scenes (MetaWorld: object and goal
positions; PushT: agent and block poses), so every policy of an ablation faces the same scenes
(the demos use seeds 0..N-1: evaluation scenes are held out when seed_start >= N).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ma_vlm.atomic_io import atomic_path, write_json_atomic, write_text_atomic
from ma_vlm.vla.environments import env_class
from ma_vlm.vla.features import METRES_PER_UNIT, STATE_KEY, TASK_KEY, depth_key, image_key


def load_policy(policy_dir: str | Path):
    """(policy, preprocessor, postprocessor) from a `pretrained_model` folder of lerobot-train."""
    from lerobot.policies.factory import make_pre_post_processors

    import ma_vlm.vla.processor_ma_vla  # noqa: F401  (registers the tokenizer step)
    from ma_vlm.vla.modeling_ma_vla import MAVLAPolicy

    policy = MAVLAPolicy.from_pretrained(str(policy_dir)).eval()
    pre, post = make_pre_post_processors(policy.config, pretrained_path=str(policy_dir))
    return policy, pre, post


def observation_to_batch(observation: dict, instruction: str, camera: str, depth_unit: str) -> dict:
    """One env observation -> a batch of one in LeRobot's layout (what the preprocessor takes)."""
    image = torch.from_numpy(observation["pixels"][camera]).permute(2, 0, 1)[None].float() / 255
    batch = {image_key(camera): image, STATE_KEY: torch.from_numpy(observation["agent_pos"])[None], TASK_KEY: [instruction]}
    if "depth" in observation:
        depth_m = torch.from_numpy(observation["depth"][camera]).permute(2, 0, 1)[None]
        batch[depth_key(camera)] = depth_m / METRES_PER_UNIT[depth_unit]
    return batch


def run_episode(policy, pre, post, env, seed: int, keep_frames: bool):
    """-> (success, steps, frames, per-call seconds, seconds of calls that predicted a chunk,
    the highest `info["coverage"]` seen or None when the env reports none)."""
    observation, info = env.reset(seed=seed)
    policy.reset()
    frames, call_seconds, chunk_seconds = [], [], []
    success, coverage = False, info.get("coverage")
    for _ in range(env._max_episode_steps):
        if keep_frames:
            frames.append(observation["pixels"][env.camera])
        start = time.perf_counter()
        new_chunk = len(policy._action_queue) == 0
        batch = pre(observation_to_batch(observation, env.task_description, env.camera, policy.config.depth_unit))
        action = post(policy.select_action(batch))[0].numpy()
        elapsed = time.perf_counter() - start
        call_seconds.append(elapsed)
        if new_chunk:
            chunk_seconds.append(elapsed)
        observation, _, success, truncated, info = env.step(np.clip(action, env.action_space.low, env.action_space.high))
        if coverage is not None:
            coverage = max(coverage, info["coverage"])
        if success or truncated:
            break
    return success, len(call_seconds), frames, call_seconds, chunk_seconds, coverage


def save_gif(frames: list[np.ndarray], path: Path, fps: int = 20) -> None:
    from PIL import Image

    images = [Image.fromarray(frame).resize((192, 192), Image.NEAREST) for frame in frames[::2]]
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=int(2000 / fps), loop=0)


def evaluate(policy_dir: str | Path, tasks: list[str] | None, episodes: int, output: str | Path, seed_start: int = 1000,
             max_steps: int | None = None, gifs_per_task: int = 2, env: str = "metaworld") -> dict:
    """Success per task, latency (PushT: mean of each episode's highest coverage too); writes
    `results.json` and GIFs under `output`. `max_steps` defaults to the env's `eval_steps`."""
    torch.manual_seed(0)  # the flow's starting noise: same seeds, same rollouts
    from ma_vlm.inputs import check_hub_id, ensure_output_dir

    env_type = env_class(env)
    tasks = env_type.check_tasks(list(tasks or []))
    max_steps = max_steps or env_type.eval_steps
    if not Path(policy_dir).exists():  # a mistyped local folder fails here, not deep in the Hub client
        check_hub_id(str(policy_dir), "--policy")
    policy, pre, post = load_policy(policy_dir)
    output = ensure_output_dir(output)
    camera = policy.config.camera_names[0]
    per_task, calls, chunks = {}, [], []
    for task in tasks:
        scene = env_type(task, image_size=policy.config.input_features[image_key(camera)].shape[-1], camera=camera,
                         max_episode_steps=max_steps, with_depth=policy.config.depth_input)
        outcomes = []
        for episode in tqdm(range(episodes), desc=f"eval {task}"):
            keep = episode < gifs_per_task
            success, steps, frames, call_s, chunk_s, coverage = run_episode(policy, pre, post, scene, seed_start + episode, keep)
            outcomes.append({"seed": seed_start + episode, "success": bool(success), "steps": steps})
            if coverage is not None:
                outcomes[-1]["max_coverage"] = float(coverage)
            calls += call_s
            chunks += chunk_s
            if keep:
                save_gif(frames, output / f"{task}_seed{seed_start + episode}_{'success' if success else 'fail'}.gif")
        scene.close()
        per_task[task] = {"success_rate": float(np.mean([o["success"] for o in outcomes])), "episodes": outcomes}
        if all("max_coverage" in o for o in outcomes):
            per_task[task]["mean_max_coverage"] = float(np.mean([o["max_coverage"] for o in outcomes]))
        results = _summary(policy, policy_dir, env, per_task, calls, chunks)
        write_json_atomic(output / "results.json", results)  # after each task: a long run shows progress
    return results


def _summary(policy, policy_dir, env: str, per_task: dict, calls: list[float], chunks: list[float]) -> dict:
    return {
        "policy": str(policy_dir),
        "env": env,
        "tasks": per_task,
        "mean_success_rate": float(np.mean([t["success_rate"] for t in per_task.values()])),
        "latency_ms_per_chunk": 1000 * float(np.median(chunks)),
        "latency_ms_per_action": 1000 * float(np.sum(calls) / len(calls)),
        "chunk_size": policy.config.chunk_size,
        "n_action_steps": policy.config.n_action_steps,
        "torch_threads": torch.get_num_threads(),
    }


def ablation_table(runs: dict[str, str | Path], output: str | Path) -> str:
    """Markdown table (one row per run, one column per task) from `results.json` files."""
    loaded = {name: json.loads((Path(path) / "results.json").read_text()) for name, path in runs.items()}
    tasks = list(dict.fromkeys(task for result in loaded.values() for task in result["tasks"]))
    header = "| policy | " + " | ".join(tasks) + " | mean | ms/chunk | ms/action |"
    lines = [header, "|" + "---|" * (len(tasks) + 4)]
    for name, result in loaded.items():
        cells = [f"{result['tasks'][t]['success_rate']:.0%} ({len(result['tasks'][t]['episodes'])})"
                 if t in result["tasks"] else "not run" for t in tasks]
        lines.append(
            f"| {name} | " + " | ".join(cells)
            + f" | {result['mean_success_rate']:.0%} | {result['latency_ms_per_chunk']:.0f} | {result['latency_ms_per_action']:.1f} |"
        )
    text = "\n".join(lines) + "\n"
    write_text_atomic(output, text)
    return text
