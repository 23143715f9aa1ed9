"""Read RGB-D datasets in our schema (generated or external) and feed them to PyTorch.

``load_rgbd_dataset`` opens any source in the ``rgbd_features()`` schema: a folder written by
``ma-vlm data generate`` (parquet shards), a folder from ``Dataset.save_to_disk``, loose parquet
files, or a Hub dataset id. ``RGBDTorchDataset`` decodes rows, optionally resizes them to one
size (scaling the intrinsics) and samples a Sparse Metric Prompt per item, deterministically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ma_vlm.data.schema import decode_record, rgbd_features
from ma_vlm.errors import MaVlmInputError

REQUIRED_COLUMNS = ("image", "depth", "height", "width", "intrinsics", "source")


def load_rgbd_dataset(path_or_name: str | Path, split: str = "train", streaming: bool = False):
    """A ``datasets.Dataset`` (or ``IterableDataset`` when ``streaming``) in our schema.

    Raw rows: decode one with ``ma_vlm.data.schema.decode_record(row)``.
    """
    import datasets

    path = Path(path_or_name)
    saved_markers = ("state.json", "dataset_dict.json")  # written by Dataset(Dict).save_to_disk
    if path.is_dir() and any((path / marker).exists() for marker in saved_markers):
        loaded = datasets.load_from_disk(str(path))
        dataset = loaded[split] if isinstance(loaded, datasets.DatasetDict) else loaded
    elif path.is_dir():
        files = sorted(str(p) for p in path.rglob("*.parquet"))
        if not files:
            raise MaVlmInputError(
                f"{path} holds no parquet shards; generate one with `ma-vlm data generate --output {path}`."
            )
        dataset = datasets.load_dataset("parquet", data_files={split: files}, split=split,
                                        streaming=streaming)
    elif path.suffix == ".parquet" and path.exists():
        dataset = datasets.load_dataset("parquet", data_files={split: [str(path)]}, split=split,
                                        streaming=streaming)
    else:
        dataset = datasets.load_dataset(str(path_or_name), split=split, streaming=streaming)
    missing = [c for c in REQUIRED_COLUMNS if c not in (dataset.features or {})]
    if missing:
        raise MaVlmInputError(
            f"{path_or_name} lacks columns {missing} of the ma-vlm RGB-D schema; convert it with "
            "ma_vlm.data.schema.encode_record and rgbd_features()."
        )
    return dataset


def records_to_dataset(records):
    """Encode decoded ``RGBDRecord``s (e.g. an external source read into numpy) into a
    ``datasets.Dataset`` with ``rgbd_features()``; save it with ``save_to_disk`` or ``to_parquet``."""
    import datasets

    from ma_vlm.data.schema import encode_record

    return datasets.Dataset.from_list([encode_record(r) for r in records], features=rgbd_features())


def write_rgbd_shards(records, output_dir: str | Path, records_per_shard: int = 1000,
                      total: int | None = None) -> int:
    """Stream decoded records into ``output_dir/data/train-XXXXX.parquet`` shards (each written
    atomically), readable with ``load_rgbd_dataset(output_dir)``. Returns the record count."""
    import os

    from tqdm.auto import tqdm

    data_dir = Path(output_dir) / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    buffer, shard, count = [], 0, 0

    def flush():
        nonlocal shard
        final = data_dir / f"train-{shard:05d}.parquet"
        tmp = final.with_suffix(".parquet.tmp")
        records_to_dataset(buffer).to_parquet(str(tmp))
        os.replace(tmp, final)
        shard += 1
        buffer.clear()

    for record in tqdm(records, total=total, unit="record", desc="writing"):
        buffer.append(record)
        count += 1
        if len(buffer) == records_per_shard:
            flush()
    if buffer:
        flush()
    return count


def resize_record(record: dict, height_px: int, width_px: int) -> dict:
    """Resize image (bilinear) and depth / instance mask (nearest: no invented depths at
    edges) to (height_px, width_px); intrinsics scale per axis, so fx != fy after a change of
    aspect ratio (`ma_vlm.geometry.scale_intrinsics`, the one pixel convention)."""
    from PIL import Image

    from ma_vlm.geometry import scale_intrinsics

    height, width = record["depth"].shape
    if (height, width) == (height_px, width_px):
        return record
    sx, sy = width_px / width, height_px / height
    image = np.asarray(Image.fromarray(record["image"]).resize((width_px, height_px), Image.BILINEAR))
    rows = np.minimum(((np.arange(height_px) + 0.5) / sy).astype(int), height - 1)
    cols = np.minimum(((np.arange(width_px) + 0.5) / sx).astype(int), width - 1)
    out = {**record, "image": image, "depth": record["depth"][np.ix_(rows, cols)],
           "intrinsics": scale_intrinsics(record["intrinsics"], sx, sy)}
    if record.get("instance_mask") is not None:
        out["instance_mask"] = record["instance_mask"][np.ix_(rows, cols)]
    return out


class RGBDTorchDataset:
    """A ``torch.utils.data.Dataset`` of training examples from a dataset in our schema.

    Item ``i`` is a dict of tensors:
      ``pixel_values`` (3, H, W) float32 RGB in [0, 1];
      ``depth`` (1, H, W) float32 metres, 0 = invalid; ``valid_mask`` (1, H, W) bool;
      ``intrinsics`` (4,) float32 [fx, fy, cx, cy] pixels of this (resized) image;
      ``focal_length_px`` () float32 = fx;
      ``prompt_depth`` (1, H, W) float32 metres, 0 = missing (all 0 without a prompt);
      ``has_prompt`` () bool.
    With ``size=(H, W)`` every item is resized (so the default collate stacks a batch);
    the prompt of item ``i`` at ``epoch`` is seeded by ``(seed, epoch, i)``.
    """

    def __init__(self, dataset, size: tuple[int, int] | None = None, prompt_sampler=None,
                 seed: int = 0):
        self.dataset, self.size, self.prompt_sampler, self.seed = dataset, size, prompt_sampler, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        import torch

        record = decode_record(self.dataset[int(index)])
        if self.size is not None:
            record = resize_record(record, *self.size)
        depth = record["depth"]
        prompt = None
        if self.prompt_sampler is not None:
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, int(index)]))
            prompt = self.prompt_sampler(depth, rng)
        return {
            "pixel_values": torch.from_numpy(np.array(record["image"])).permute(2, 0, 1).float() / 255.0,
            "depth": torch.from_numpy(depth)[None],
            "valid_mask": torch.from_numpy(depth > 0)[None],
            "intrinsics": torch.tensor(record["intrinsics"], dtype=torch.float32),
            "focal_length_px": torch.tensor(record["intrinsics"][0], dtype=torch.float32),
            "prompt_depth": torch.from_numpy(np.zeros_like(depth) if prompt is None else prompt)[None],
            "has_prompt": torch.tensor(prompt is not None),
        }
