"""Generate a synthetic RGB-D dataset: procedural scenes x camera zoo -> sharded parquet.

Scene ``i`` depends only on ``(seed, i)`` (its own ``numpy`` generator from a
``SeedSequence``), so the output is identical for any number of worker processes. Shards are
written atomically (tmp + ``os.replace``) as ``data/train-XXXXX-of-YYYYY.parquet`` with the
``rgbd_features()`` schema in their metadata, so ``load_rgbd_dataset(output_dir)`` (or
``datasets.load_dataset``; see the card for its cache caveat) reads them with the right features.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ma_vlm.atomic_io import mark_complete, write_text_atomic
from ma_vlm.data.loading import DATASET_KIND, incomplete_reason
from ma_vlm.errors import MaVlmInputError

SCENES_PER_SHARD = 256


@dataclass(frozen=True)
class GenerationConfig:
    """What ``generate_dataset`` makes. ``sources`` lists the depth sources drawn per scene:
    "render" (clean) or a noisy sensor from ``ma_vlm.data.noise`` (applied to the render)."""

    num_scenes: int
    seed: int = 0
    num_camera_models: int = 1000
    max_side_px: int = 640
    min_side_px: int = 48
    layouts: tuple[str, ...] = ("room", "tabletop", "street")
    sources: tuple[str, ...] = ("render",)
    scenes_per_shard: int = SCENES_PER_SHARD


def scene_record(config: GenerationConfig, scene_index: int) -> dict:
    """The decoded ``RGBDRecord`` of scene ``scene_index`` (deterministic in seed and index)."""
    from ma_vlm.data.cameras import camera_zoo
    from ma_vlm.data.noise import apply_source
    from ma_vlm.data.render import render_scene
    from ma_vlm.data.scenes import sample_scene

    rng = np.random.default_rng(np.random.SeedSequence([config.seed, scene_index]))
    zoo = camera_zoo(config.num_camera_models, config.max_side_px, config.min_side_px)
    camera = zoo[int(rng.integers(len(zoo)))]
    layout = config.layouts[int(rng.integers(len(config.layouts)))]
    source = config.sources[int(rng.integers(len(config.sources)))]
    scene_id = f"s{config.seed}-{scene_index:08d}-{layout}"
    record = render_scene(sample_scene(layout, rng, scene_id), camera)
    if source != "render":
        record = apply_source(record, source, seed=int(rng.integers(2**31)))
    return record


def _encoded_scene(task: tuple[GenerationConfig, int]) -> dict:
    """Worker body: render scene ``task[1]`` and encode it to a ``rgbd_features()`` row."""
    from ma_vlm.data.schema import encode_record

    config, scene_index = task
    return encode_record(scene_record(config, scene_index))


def _write_shard(rows: list[dict], path: Path) -> None:
    from datasets import Dataset

    from ma_vlm.data.schema import rgbd_features

    tmp = path.with_name(path.name + ".tmp")
    Dataset.from_list(rows, features=rgbd_features()).to_parquet(str(tmp))
    os.replace(tmp, path)


def _worker_context():
    """Fork (fast: workers inherit the imports; the pool forks before tqdm starts a thread)
    unless this process already initialised EGL, whose driver state must not be forked; then
    spawn (each worker re-imports ``ma_vlm``)."""
    import multiprocessing
    import sys

    if "mujoco.egl" in sys.modules or "fork" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    return multiprocessing.get_context("fork")


def generate_dataset(output_dir: str | Path, config: GenerationConfig, workers: int = 1) -> Path:
    """Render ``config.num_scenes`` scenes into ``output_dir`` with ``workers`` processes.

    Writes ``output_dir/data/*.parquet``, ``output_dir/generation.json`` (the config, so a
    dataset says how it was made), the card, and last ``complete.json`` (a folder without it is
    an interrupted render: ``load_rgbd_dataset`` refuses it). Returns ``output_dir``.
    """
    from ma_vlm.data.cameras import camera_zoo
    from ma_vlm.data.noise import NOISE_SOURCES

    if config.num_scenes < 1:
        raise MaVlmInputError(f"--scenes must be >= 1, got {config.num_scenes}.")
    unknown = [s for s in config.sources if s != "render" and s not in NOISE_SOURCES]
    if unknown:
        raise MaVlmInputError(
            f"unknown depth source(s) {unknown}; choose from render, {', '.join(NOISE_SOURCES)}."
        )
    camera_zoo(config.num_camera_models, config.max_side_px, config.min_side_px)  # validates
    output_dir = Path(output_dir)
    data_dir = output_dir / "data"
    reason = incomplete_reason(output_dir) if data_dir.is_dir() and any(data_dir.glob("*.parquet")) else None
    if reason is not None:
        raise MaVlmInputError(f"{output_dir} holds an incomplete render ({reason}): an earlier run was "
                              "interrupted; delete that folder and run again")
    if data_dir.is_dir() and any(data_dir.glob("*.parquet")):
        raise MaVlmInputError(
            f"{data_dir} already holds parquet shards; choose a new --output or delete that folder "
            "(mixing two generations would silently duplicate scenes)."
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    num_shards = -(-config.num_scenes // config.scenes_per_shard)
    tasks = ((config, i) for i in range(config.num_scenes))

    import datasets  # noqa: F401  (imported once here: forked workers inherit it)
    from tqdm.auto import tqdm

    # Workers render and encode; this process writes shards in scene order, so the files are
    # the same for any worker count (and hold at most one shard of rows in memory).
    pool = _worker_context().Pool(workers) if workers > 1 else None
    try:
        rows_in_order = pool.imap(_encoded_scene, tasks, chunksize=2) if pool else map(_encoded_scene, tasks)
        rows, shard = [], 0
        with tqdm(total=config.num_scenes, unit="scene", desc="rendering") as progress:
            for row in rows_in_order:
                rows.append(row)
                progress.update(1)
                if len(rows) == config.scenes_per_shard or progress.n == config.num_scenes:
                    _write_shard(rows, data_dir / f"train-{shard:05d}-of-{num_shards:05d}.parquet")
                    rows, shard = [], shard + 1
        if pool is not None:
            pool.close()
            pool.join()
    finally:
        if pool is not None:
            pool.terminate()  # no-op after a clean close; stops workers after an error
    meta = {"generator": "ma_vlm.data.generate", **asdict(config)}
    write_text_atomic(output_dir / "generation.json", json.dumps(meta, indent=2))
    write_text_atomic(output_dir / "README.md", dataset_card(config))
    mark_complete(output_dir, DATASET_KIND, writer="ma-vlm data generate", num_records=config.num_scenes)
    return output_dir


def dataset_card(config: GenerationConfig) -> str:
    """A Hub-style dataset card: ``datasets.load_dataset(folder)`` reads its ``configs``."""
    return f"""---
license: apache-2.0
task_categories:
- depth-estimation
tags:
- synthetic
- metric-depth
- mujoco
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*.parquet
---
# Synthetic metric RGB-D (ma-vlm)

{config.num_scenes} procedural scenes ({", ".join(config.layouts)}) rendered offscreen with MuJoCo
through {config.num_camera_models} camera models (seed {config.seed}; depth sources:
{", ".join(config.sources)}). Made by `ma-vlm data generate`; the exact settings are in
`generation.json`, and the same settings give the same bytes.

| column | meaning |
|---|---|
| `image` | RGB PNG |
| `depth` | float32 little-endian bytes, row-major (`height`, `width`), metres of z-depth, 0 = invalid |
| `intrinsics` | [fx, fy, cx, cy] pixels, pixel centres at integer coordinates (OpenCV) |
| `source` | `render` (clean) or the simulated sensor the depth went through |
| `instances` | objects: id, category, colour, 3D box centre (camera frame, m), size (m), yaw (rad), pixels |
| `instance_mask` | int32 bytes (`height`, `width`), 0 = background |
| `camera_to_world` | 4 x 4 row-major, OpenCV camera axes, MuJoCo world (z up) |
| `camera_model_id` | index in `ma_vlm.data.cameras.camera_zoo` |

Load it with `ma_vlm.data.loading.load_rgbd_dataset(folder)` (it reads the shards by explicit file
list) and decode a row with `ma_vlm.data.schema.decode_record`. `datasets.load_dataset(folder)`
reads this card's `configs` too, but its cache is keyed by the folder's *name*: two generated
folders with the same name can return each other's rows.
"""
