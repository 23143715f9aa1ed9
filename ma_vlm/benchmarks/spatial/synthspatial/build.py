"""Build SynthSpatial from RGB-D records and save it as a Hugging Face dataset folder.

``build_synthspatial(records, "out/")`` writes ``out/data/{split}-00000-of-00001.parquet`` and a
dataset card ``out/README.md``; ``datasets.load_dataset("out/")`` reads it back (but see
``ma_vlm.benchmarks.spatial.io.load_local_split`` for a cache pitfall with same-named folders). Records are
decoded ``RGBDRecord`` dicts (``ma_vlm.data.schema``), e.g. from ``records_from_dataset``.

Determinism: the questions of record ``i`` come from ``numpy.random.default_rng([seed, i])``,
and a scene's split from a SHA-256 of ``seed`` and its ``scene_id``, so the same records and
seed give the same dataset byte for byte, and all views of one scene share a split.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter

import numpy as np

from ma_vlm.benchmarks.spatial.synthspatial.questions import (
    SYNTHSPATIAL_MCA_TYPES,
    SYNTHSPATIAL_NA_TYPES,
    SynthSpatialConfig,
    questions_for_record,
)
from ma_vlm.errors import MaVlmInputError

SPLITS = ("train", "validation", "test")


def split_of(scene_id: str, seed: int, fractions: tuple[float, float, float]) -> str:
    """"train", "validation" or "test" for a scene, stable across runs and machines."""
    digest = hashlib.sha256(f"{seed}:{scene_id}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
    edges = np.cumsum(fractions) / sum(fractions)
    return SPLITS[int(np.searchsorted(edges, position, side="right"))]


def synthspatial_features():
    from datasets import Features, Image, List, Value

    return Features({
        "id": Value("string"), "scene_id": Value("string"), "image": Image(),
        "question_type": Value("string"), "question": Value("string"),
        "options": List(Value("string")), "ground_truth": Value("string"),
        "answer_unit": Value("string"), "objects": List(Value("string")),
        "intrinsics": List(Value("float64"), length=4), "source": Value("string"),
    })  # fmt: skip


def synthspatial_rows(records, seed: int = 0, config: SynthSpatialConfig | None = None, fractions=(0.8, 0.1, 0.1)):
    """``{split: [row, ...]}`` for an iterable of decoded RGB-D records."""
    from PIL import Image
    from tqdm import tqdm

    config = config or SynthSpatialConfig()
    rows: dict[str, list[dict]] = {split: [] for split in SPLITS}
    for index, record in enumerate(tqdm(records, desc="SynthSpatial", unit="scene")):
        scene_id = str(record.get("scene_id") or f"scene{index:06d}")
        rng = np.random.default_rng([seed, index])
        image = Image.fromarray(np.asarray(record["image"], np.uint8))
        for number, question in enumerate(questions_for_record(record, rng, config)):
            rows[split_of(scene_id, seed, fractions)].append({
                "id": f"{scene_id}-{index:06d}-{number:03d}", "scene_id": scene_id, "image": image,
                **question, "intrinsics": [float(v) for v in record["intrinsics"]],
                "source": str(record.get("source", "")),
            })  # fmt: skip
    return rows


def build_synthspatial(records, output_dir: str, seed: int = 0, config: SynthSpatialConfig | None = None,
                       fractions=(0.8, 0.1, 0.1), source_name: str = "RGB-D records"):  # fmt: skip
    """Generate, save (parquet per split + README.md) and return the ``DatasetDict``."""
    from datasets import Dataset, DatasetDict

    rows = synthspatial_rows(records, seed, config, fractions)
    if not any(rows.values()):
        raise MaVlmInputError(
            "no SynthSpatial question could be asked: records need instances with unique "
            "'{color} {category}' names and enough mask pixels (see SynthSpatialConfig.min_pixels)."
        )
    features = synthspatial_features()
    dataset = DatasetDict({s: Dataset.from_list(r, features=features) for s, r in rows.items() if r})
    os.makedirs(os.path.join(output_dir, "data"), exist_ok=True)
    for split, part in dataset.items():
        final = os.path.join(output_dir, "data", f"{split}-00000-of-00001.parquet")
        part.to_parquet(final + ".tmp")
        os.replace(final + ".tmp", final)
    card = dataset_card(dataset, seed, config or SynthSpatialConfig(), source_name)
    with open(os.path.join(output_dir, "README.md.tmp"), "w", encoding="utf-8") as handle:
        handle.write(card)
    os.replace(os.path.join(output_dir, "README.md.tmp"), os.path.join(output_dir, "README.md"))
    return dataset


def dataset_card(dataset, seed: int, config: SynthSpatialConfig, source_name: str) -> str:
    """The README.md: Hub metadata (configs -> parquet files) and how the data was made."""
    data_files = "\n".join(
        f"      - split: {split}\n        path: data/{split}-00000-of-00001.parquet" for split in dataset
    )
    counts = "\n".join(
        f"| {split} | {len(part)} | "
        + ", ".join(f"{t} {n}" for t, n in sorted(Counter(part["question_type"]).items()))
        + " |"
        for split, part in dataset.items()
    )
    return f"""---
license: apache-2.0
task_categories:
  - visual-question-answering
language:
  - en
tags:
  - spatial-reasoning
  - metric-depth
  - synthetic
configs:
  - config_name: default
    data_files:
{data_files}
---

# SynthSpatial

Single-image spatial question answering generated by `ma_vlm.benchmarks.spatial.synthspatial` from
{source_name} with known geometry (metric depth, intrinsics, instance masks, 3D object boxes).
Every answer is computed from that geometry; no model is involved.

## Questions and scoring

Scored with VSI-Bench's rules (`ma-vlm eval score --benchmark synthspatial`): numerical types by
Mean Relative Accuracy over thresholds 0.50:0.95:0.05, multiple-choice types by exact letter
match of the first token; `overall` is the mean of the type scores with the three relative
direction difficulties averaged into `object_rel_direction_accuracy`.

- numerical (MRA): {", ".join(SYNTHSPATIAL_NA_TYPES)}
- multiple choice (accuracy): {", ".join(SYNTHSPATIAL_MCA_TYPES)}

Distances are between 3D box centres in metres, sizes the longest box side in centimetres,
directions are taken in the floor plane (world up {list(config.world_up)}).

## Fields

`id`, `scene_id`, `image` (RGB), `question_type`, `question`, `options` ("A. ..." strings, empty
for numerical questions), `ground_truth` (a letter, or a number as text), `answer_unit`,
`objects` (names used in the question), `intrinsics` ([fx, fy, cx, cy] pixels), `source`.

## Splits

Split by scene (SHA-256 of seed and scene id), seed {seed}.

| split | questions | per type |
|---|---|---|
{counts}

## Generation settings

questions_per_type={config.questions_per_type}, min_pixels={config.min_pixels},
relative_margin={config.relative_margin}, direction_margin_deg={config.direction_margin_deg},
min_separation_m={config.min_separation_m}.
"""


def records_from_dataset(path: str, split: str = "train"):
    """Decoded RGB-D records from any source ``ma_vlm.data.loading.load_rgbd_dataset`` reads
    (``ma-vlm data generate`` folders, ``save_to_disk`` folders, parquet files, Hub ids)."""
    from ma_vlm.data.loading import load_rgbd_dataset
    from ma_vlm.data.schema import decode_record

    for row in load_rgbd_dataset(path, split=split):
        yield decode_record(row)
