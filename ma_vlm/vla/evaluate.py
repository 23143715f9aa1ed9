"""Closed-loop evaluation of a trained `ma_vla` policy in MetaWorld: success rate per task,
control latency, and GIFs of a few episodes.

Seeds `seed_start .. seed_start + episodes - 1` fix the object and goal positions, so every
policy of an ablation faces the same scenes (the demos use seeds 0..N-1: evaluation scenes
are held out when seed_start >= N).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ma_vlm.atomic_io import atomic_path, write_json_atomic, write_text_atomic
from ma_vlm.vla.features import METRES_PER_UNIT, STATE_KEY, TASK_KEY, depth_key, image_key
from ma_vlm.vla.metaworld_env import MetaWorldRGBDEnv, check_tasks


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


def run_episode(policy, pre, post, env: MetaWorldRGBDEnv, seed: int, keep_frames: bool):
    """-> (success, steps, frames, per-call seconds, seconds of calls that predicted a chunk)."""
    observation, _ = env.reset(seed=seed)
    policy.reset()
    frames, call_seconds, chunk_seconds = [], [], []
    success = False
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
        observation, _, success, truncated, _ = env.step(np.clip(action, -1, 1))
        if success or truncated:
            break
    return success, len(call_seconds), frames, call_seconds, chunk_seconds


def save_gif(frames: list[np.ndarray], path: Path, fps: int = 20) -> None:
    from PIL import Image

    images = [Image.fromarray(frame).resize((192, 192), Image.NEAREST) for frame in frames[::2]]
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=int(2000 / fps), loop=0)


def evaluate(policy_dir: str | Path, tasks: list[str], episodes: int, output: str | Path, seed_start: int = 1000,
             max_steps: int = 120, gifs_per_task: int = 2) -> dict:
    """Success per task, latency; writes `results.json` and GIFs under `output`."""
    torch.manual_seed(0)  # the flow's starting noise: same seeds, same rollouts
    from ma_vlm.inputs import check_hub_id, ensure_output_dir

    tasks = check_tasks(list(tasks))
    if not Path(policy_dir).exists():  # a mistyped local folder fails here, not deep in the Hub client
        check_hub_id(str(policy_dir), "--policy")
    policy, pre, post = load_policy(policy_dir)
    output = ensure_output_dir(output)
    camera = policy.config.camera_names[0]
    per_task, calls, chunks = {}, [], []
    for task in tasks:
        env = MetaWorldRGBDEnv(task, image_size=policy.config.input_features[image_key(camera)].shape[-1], camera=camera,
                               max_episode_steps=max_steps, with_depth=policy.config.depth_input)
        outcomes = []
        for episode in tqdm(range(episodes), desc=f"eval {task}"):
            keep = episode < gifs_per_task
            success, steps, frames, call_s, chunk_s = run_episode(policy, pre, post, env, seed_start + episode, keep)
            outcomes.append({"seed": seed_start + episode, "success": bool(success), "steps": steps})
            calls += call_s
            chunks += chunk_s
            if keep:
                save_gif(frames, output / f"{task}_seed{seed_start + episode}_{'success' if success else 'fail'}.gif")
        env.close()
        per_task[task] = {"success_rate": float(np.mean([o["success"] for o in outcomes])), "episodes": outcomes}
        results = _summary(policy, policy_dir, per_task, calls, chunks)
        write_json_atomic(output / "results.json", results)  # after each task: a long run shows progress
    return results


def _summary(policy, policy_dir, per_task: dict, calls: list[float], chunks: list[float]) -> dict:
    return {
        "policy": str(policy_dir),
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
