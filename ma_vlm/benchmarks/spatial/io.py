"""Reading benchmark items and prediction files (results are written with ma_vlm.atomic_io).

``load_items`` reads a benchmark's published fields either from the Hugging Face Hub (the
benchmark's dataset id) or from a local copy: a folder saved with ``save_to_disk``, a Hub-style
folder (parquet/json files, optional README.md), or a single parquet/json/jsonl file. SpatialBench
copies are the official folder of per-task JSON files.
"""

from __future__ import annotations

import glob
import json
import os

from ma_vlm.errors import MaVlmInputError


def read_jsonl(path: str, *, drop_partial_last_line: bool = False) -> list[dict]:
    """One dict per non-empty line. A line that is not a JSON object is an error naming its
    number, except (with ``drop_partial_last_line``) an unterminated last line, which an
    interrupted writer may leave behind and is ignored."""
    if not os.path.exists(path):
        raise MaVlmInputError(f"prediction file {path!r} does not exist.")
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            if drop_partial_last_line and number == len(lines):
                break
            raise MaVlmInputError(
                f"{path}: line {number} is not JSON ({error.msg}); write one JSON object per line."
            ) from None
        if not isinstance(record, dict):
            raise MaVlmInputError(f"{path}: line {number} is not a JSON object; write one object per line.")
        records.append(record)
    return records




def append_jsonl(path: str, records: list[dict]) -> None:
    """Append records in a single write, flushed and fsynced, so a kill leaves at most one
    partial last line (which ``read_jsonl(..., drop_partial_last_line=True)`` skips)."""
    if not records:
        return
    data = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _load_spatialbench_folder(folder: str) -> list[dict]:
    from ma_vlm.benchmarks.spatial.spatialbench import SPATIALBENCH_TASKS

    items = []
    for task in SPATIALBENCH_TASKS:
        path = os.path.join(folder, f"{task}.json")
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as handle:
            for index, record in enumerate(json.load(handle)):
                items.append({**record, "task": task, "id": f"{task}_{record.get('id', index)}"})
    if not items:
        raise MaVlmInputError(f"{folder!r} holds none of {[t + '.json' for t in SPATIALBENCH_TASKS]}.")
    return items


def load_local_split(folder: str, split: str):
    """One split of a local dataset folder (Hub layout: ``data/{split}-*.parquet``, or any
    parquet/json/jsonl files whose name starts with the split; a folder of files without split
    names is one split).

    Files are passed to ``load_dataset`` explicitly: ``load_dataset(folder)`` on a folder with a
    README ``configs`` block caches by folder name, so two folders called ``synthspatial`` (or a
    regenerated one) can silently return the other's cached rows (seen with datasets 4.8).
    """
    import datasets

    files = sorted(
        path for pattern in ("*.parquet", "*.jsonl", "*.json")
        for path in glob.glob(os.path.join(folder, "**", pattern), recursive=True)
        if os.path.basename(path) not in ("dataset_info.json", "generation.json", "state.json", "complete.json")
    )  # fmt: skip
    chosen = [f for f in files if os.path.basename(f).startswith((f"{split}-", f"{split}.", f"{split}_"))]
    named = [f for f in files if os.path.basename(f).split("-")[0].split(".")[0] in ("train", "validation", "test", "val")]
    if not chosen and not named:
        chosen = files
    if not chosen:
        found = sorted({os.path.basename(f).split("-")[0].split(".")[0] for f in named})
        raise MaVlmInputError(f"{folder!r} has no {split!r} split (found {found}); pass --split.")
    kinds = {os.path.splitext(f)[1] for f in chosen}
    kind = "parquet" if kinds == {".parquet"} else "json"
    if len(kinds) > 1 and ".parquet" in kinds:
        raise MaVlmInputError(f"{folder!r} mixes parquet and json files for split {split!r}; keep one format.")
    return datasets.load_dataset(kind, data_files={split: chosen}, split=split)


def load_items(benchmark, data: str | None = None, split: str | None = None, subsets=None):
    """The benchmark's items as a ``datasets.Dataset`` (or a list for SpatialBench folders).

    ``data=None`` reads ``benchmark.hub_id`` from the Hub: the ``subsets`` (Hub configs, default
    ``benchmark.hub_configs``, e.g. BLINK's spatial sub-tasks) concatenated. Otherwise ``data``
    is a local copy holding the items to run.
    """
    import datasets

    split = split or benchmark.split
    if data is None:
        if benchmark.hub_id is None:
            raise MaVlmInputError(f"{benchmark.name} is generated locally; pass --data the dataset folder.")
        if benchmark.name == "spatialbench":
            from huggingface_hub import snapshot_download

            return _load_spatialbench_folder(snapshot_download(benchmark.hub_id, repo_type="dataset"))
        parts = [datasets.load_dataset(benchmark.hub_id, name, split=split) for name in subsets or benchmark.hub_configs]
        return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)
    if not os.path.exists(data):
        raise MaVlmInputError(f"--data {data!r} does not exist; pass a dataset folder or file.")
    if os.path.isfile(data):
        kind = {".parquet": "parquet", ".json": "json", ".jsonl": "json"}.get(os.path.splitext(data)[1])
        if kind is None:
            raise MaVlmInputError(f"--data {data!r}: expected a .parquet, .json or .jsonl file or a folder.")
        return datasets.load_dataset(kind, data_files=data, split="train")
    if benchmark.name == "spatialbench":
        return _load_spatialbench_folder(data)
    if benchmark.name == "synthspatial":
        from ma_vlm.benchmarks.spatial.synthspatial import check_synthspatial_folder

        check_synthspatial_folder(data)
    if os.path.exists(os.path.join(data, "dataset_dict.json")):
        return datasets.load_from_disk(data)[split]
    if os.path.exists(os.path.join(data, "dataset_info.json")):
        return datasets.load_from_disk(data)
    return load_local_split(data, split)
