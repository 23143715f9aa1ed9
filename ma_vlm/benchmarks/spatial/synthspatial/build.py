"""Build SynthSpatial from RGB-D records and save it as a Hugging Face dataset folder.

``build_synthspatial(records, "out/")`` writes ``out/data/{split}-00000-of-00001.parquet``, a
dataset card ``out/README.md`` and, last, the completion marker ``out/complete.json``
(``ma_vlm.atomic_io``): readers refuse a folder without it (``check_synthspatial_folder``), and a
new build redoes an interrupted or earlier build in place but never a folder holding other files.
``datasets.load_dataset("out/")`` reads it back (but see
``ma_vlm.benchmarks.spatial.io.load_local_split`` for a cache pitfall with same-named folders). Records are
decoded ``RGBDRecord`` dicts (``ma_vlm.data.schema``), e.g. from ``records_from_dataset``.

Determinism: the questions of record ``i`` come from ``numpy.random.default_rng([seed, i])``,
and a scene's split from a SHA-256 of ``seed`` and its ``scene_id``, so the same records and
seed give the same dataset byte for byte, and all views of one scene share a split.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from pathlib import Path

import numpy as np

from ma_vlm.atomic_io import COMPLETE_MARKER, atomic_path, mark_complete, read_complete_marker, write_text_atomic
from ma_vlm.benchmarks.spatial.synthspatial.questions import (
    SYNTHSPATIAL_MCA_TYPES,
    SYNTHSPATIAL_NA_TYPES,
    SynthSpatialConfig,
    questions_for_record,
)
from ma_vlm.errors import MaVlmInputError

SPLITS = ("train", "validation", "test")
SYNTHSPATIAL_KIND = "synthspatial"  # kind of the completion marker
# The files a build writes, and the temporary files an interrupted one leaves (atomic_io's
# ".<name>.XXXX.tmp", and "<name>.tmp" from builds before the completion marker).
_BUILD_FILE = re.compile(r"^(README\.md|data/(train|validation|test)-00000-of-00001\.parquet)$")
_BUILD_LEFTOVER = re.compile(r"^(data/)?\.?(README\.md|complete\.json|(train|validation|test)-00000-of-00001"
                             r"\.parquet)(\.[^/]*)?\.tmp$")


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
    """Generate, save (parquet per split + README.md, then complete.json) and return the ``DatasetDict``.

    ``output_dir`` is new, empty, or an earlier (finished or interrupted) SynthSpatial build,
    which is replaced; a folder holding anything else is refused before any work."""
    from datasets import Dataset, DatasetDict

    output_dir = Path(output_dir)
    previous = check_synthspatial_output(output_dir)
    rows = synthspatial_rows(records, seed, config, fractions)
    if not any(rows.values()):
        raise MaVlmInputError(
            "no SynthSpatial question could be asked: records need instances with unique "
            "'{color} {category}' names and enough mask pixels (see SynthSpatialConfig.min_pixels)."
        )
    features = synthspatial_features()
    dataset = DatasetDict({s: Dataset.from_list(r, features=features) for s, r in rows.items() if r})
    # The marker goes first: from here until the new one is written the folder reads as unfinished.
    # Then the earlier build's files: a split the new build lacks must not survive from the old one.
    for relative in [COMPLETE_MARKER, *previous]:
        (output_dir / relative).unlink(missing_ok=True)
    for split, part in dataset.items():
        with atomic_path(output_dir / "data" / f"{split}-00000-of-00001.parquet") as tmp:
            part.to_parquet(str(tmp))
    write_text_atomic(output_dir / "README.md", dataset_card(dataset, seed, config or SynthSpatialConfig(), source_name))
    mark_complete(output_dir, SYNTHSPATIAL_KIND, writer="ma-vlm eval synthspatial", seed=seed,
                  questions={split: len(part) for split, part in dataset.items()})
    return dataset


def check_synthspatial_output(output_dir: str | Path) -> list[str]:
    """Before any work: the files (relative paths) of an earlier SynthSpatial build in
    `output_dir` that a new build replaces; [] for a new or empty folder. Raise when the folder
    holds anything a build did not write (an RGB-D dataset, the user's files)."""
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise MaVlmInputError(f"--output {output_dir} is a file; give a folder for SynthSpatial")
    if not output_dir.is_dir():
        return []
    files = sorted(str(p.relative_to(output_dir)) for p in output_dir.rglob("*") if p.is_file())
    marker = read_complete_marker(output_dir)
    if marker is not None and marker.get("kind") == SYNTHSPATIAL_KIND:
        ours = set(marker.get("files", [])) | {COMPLETE_MARKER}
    else:  # an interrupted build has no marker: only the names a build writes count as ours
        ours = {f for f in files if _BUILD_FILE.match(f)}
    ours |= {f for f in files if _BUILD_LEFTOVER.match(f)}
    others = [f for f in files if f not in ours]
    if others:
        raise MaVlmInputError(
            f"--output {output_dir} holds files ma-vlm eval synthspatial did not write ({', '.join(others[:5])}"
            f"{', ...' if len(others) > 5 else ''}); building there would mix or delete them. Choose a new folder"
        )
    return [f for f in files if f != COMPLETE_MARKER]


def synthspatial_incomplete_reason(folder: str | Path) -> str | None:
    """Why `folder` is not a finished SynthSpatial build, or None."""
    folder = Path(folder)
    if not folder.is_dir():
        return "it does not exist" if not folder.exists() else "it is a file"
    marker = read_complete_marker(folder)
    if marker is None:
        return ("it has no complete.json: the build that wrote it was interrupted, or predates completion "
                "markers")
    if marker.get("kind") != SYNTHSPATIAL_KIND:
        return f"it is a {marker.get('kind')!r} folder, not SynthSpatial questions"
    gone = [name for name in marker.get("files", []) if not (folder / name).is_file()]
    return f"{len(gone)} of its files are gone (e.g. {gone[0]})" if gone else None


def check_synthspatial_folder(folder: str | Path, flag: str = "--data") -> None:
    """Raise, naming `folder` and the fix, unless it is a finished SynthSpatial build."""
    reason = synthspatial_incomplete_reason(folder)
    if reason is not None:
        raise MaVlmInputError(f"{flag} {folder} is not a finished SynthSpatial folder ({reason}); build it with "
                              f"`ma-vlm eval synthspatial --rgbd RGBD_DIR --output {folder}`")


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
