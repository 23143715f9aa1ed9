"""Training data: noisy-source views of an RGB-D dataset mixed with `datasets.interleave_datasets`.

Each entry of `recipe.data.sources` is one *view* of the base dataset: rows tagged with the
source name, whose depth goes through `ma_vlm.data.noise.apply_source` when the row is read
("render" keeps the clean depth). Views are interleaved with the recipe's weights.

Map-style (default): example k of the training stream is row `perm_e[k mod N]` of the mixture,
with `perm_e` a permutation seeded by (seed, epoch e = k // N), and its noise and prompt are
seeded by (seed, k). The data position is therefore just k: resuming needs no loader state.
Streaming (`data.streaming: true`): the mixture is an `IterableDataset` shuffled with a buffer;
the position is again k (resuming replays the rows before k without decoding them).
"""

from __future__ import annotations

import numpy as np
import torch

SOURCE_COLUMN = "noise_source"
CLEAN_SOURCE = "render"


def source_mixture(dataset, sources: dict[str, float], seed: int):
    """One view per source, interleaved with probabilities proportional to the weights."""
    import datasets

    from ma_vlm.data.noise import NOISE_SOURCES
    from ma_vlm.errors import MaVlmInputError

    names = list(sources)
    unknown = [n for n in names if n != CLEAN_SOURCE and n not in NOISE_SOURCES]
    if not names or unknown:
        raise MaVlmInputError(f"data.sources {names}: use render (clean) and/or {', '.join(NOISE_SOURCES)}")
    weights = np.asarray([float(sources[n]) for n in names])
    if (weights <= 0).any():
        raise MaVlmInputError(f"data.sources weights must be > 0, got {sources}")
    if isinstance(dataset, datasets.IterableDataset):
        # Declared features: without them interleaving infers them from decoded rows (PIL images),
        # which Arrow cannot type.
        features = dataset.features.copy() if dataset.features is not None else None
        if features is not None:
            features[SOURCE_COLUMN] = datasets.Value("string")
        views = [dataset.map(lambda row, name=name: {SOURCE_COLUMN: name}, features=features) for name in names]
    else:
        views = [dataset.add_column(SOURCE_COLUMN, [name] * len(dataset)) for name in names]
    if len(views) == 1:
        return views[0]
    return datasets.interleave_datasets(views, probabilities=(weights / weights.sum()).tolist(), seed=seed,
                                        stopping_strategy="all_exhausted")


class ExampleMaker:
    """Turns one mixture row into a training example at network size S.

    Returns: pixel_values (3, S, S) ImageNet-normalised; depth (1, S, S) metres of the row's
    source, 0 = invalid (nearest resize); valid_mask (1, S, S) bool; focal_length_px () in network
    pixels (fx * S / W); prompt_depth (1, S, S) metres, 0 = missing, sampled at the image's own
    resolution from the source depth and resized by `prepare_prompt_depth` (the inference path);
    clean () bool (the source is the clean render).
    """

    def __init__(self, processor, prompt_sampler=None):
        self.processor, self.prompt_sampler = processor, prompt_sampler

    def __call__(self, row: dict, rng: np.random.Generator) -> dict:
        from ma_vlm.data.loading import resize_record
        from ma_vlm.data.noise import apply_source
        from ma_vlm.data.schema import decode_record

        record = decode_record(row)
        source = row.get(SOURCE_COLUMN, CLEAN_SOURCE)
        if source != CLEAN_SOURCE:
            record = apply_source(record, source, seed=int(rng.integers(2**31)))
        size = self.processor.size
        inputs = self.processor(record["image"], focal_length_px=float(record["intrinsics"][0]))
        depth = resize_record(record, size, size)["depth"]
        prompt = None
        if self.prompt_sampler is not None:
            prompt = self.prompt_sampler(record["depth"], rng)
        prompt_depth = (torch.zeros(1, size, size) if prompt is None
                        else self.processor.prepare_prompt_depth(prompt)[0])
        depth_tensor = torch.from_numpy(np.ascontiguousarray(depth, dtype=np.float32))[None]
        return {
            "pixel_values": inputs["pixel_values"][0],
            "depth": depth_tensor,
            "valid_mask": depth_tensor > 0,
            "focal_length_px": inputs["focal_length_px"][0].float(),
            "prompt_depth": prompt_depth,
            "clean": torch.tensor(source == CLEAN_SOURCE),
        }


class TrainingStream(torch.utils.data.Dataset):
    """Map-style stream: item k is training example k (see the module docstring); valid k lie in
    [start, stop) so a DataLoader over it resumes at any sample count."""

    def __init__(self, mixture, maker: ExampleMaker, seed: int, start: int, stop: int):
        self.mixture, self.maker, self.seed = mixture, maker, seed
        self.start, self.stop = start, stop
        self._permutations: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return self.stop - self.start

    def row_index(self, k: int) -> int:
        size = len(self.mixture)
        epoch = k // size
        if epoch not in self._permutations:
            self._permutations = {epoch: np.random.default_rng([self.seed, epoch]).permutation(size)}
        return int(self._permutations[epoch][k % size])

    def __getitem__(self, index: int) -> dict:
        k = self.start + int(index)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 1, k]))
        return self.maker(self.mixture[self.row_index(k)], rng)


class StreamingTrainingStream(torch.utils.data.IterableDataset):
    """Streaming mixture (shuffled with a buffer, reshuffled each epoch) -> examples. Example k of
    the stream is seeded by (seed, k) as in `TrainingStream`, and a run resumed at k = `start`
    replays the stream's rows up to k without decoding them: the rows and noise after `start`
    are those of the uninterrupted run (the shuffle buffer's contents included, which
    `IterableDataset.state_dict()` would not restore)."""

    def __init__(self, mixture, maker: ExampleMaker, seed: int, shuffle_buffer: int, start: int = 0):
        self.mixture = mixture.shuffle(seed=seed, buffer_size=shuffle_buffer)
        self.maker, self.seed, self.start = maker, seed, start

    def __iter__(self):
        k, epoch = 0, 0
        while True:
            self.mixture.set_epoch(epoch)
            empty = True
            for row in self.mixture:
                empty = False
                if k >= self.start:
                    rng = np.random.default_rng(np.random.SeedSequence([self.seed, 1, k]))
                    yield self.maker(row, rng)
                k += 1
            if empty:
                return
            epoch += 1


def training_dataset(recipe, output_dir, is_main: bool, accelerator):
    """The base RGB-D dataset: `data.path`, or `data.generate` rendered once into OUTPUT/data."""
    import os
    import shutil
    from pathlib import Path

    from ma_vlm.data.loading import incomplete_reason, load_rgbd_dataset
    from ma_vlm.errors import MaVlmInputError
    from ma_vlm.pretrain.recipe import generation_config

    path = recipe.data.path
    if path is not None and not Path(path).exists():
        from ma_vlm.inputs import looks_local

        if looks_local(str(path)):
            raise MaVlmInputError(f"recipe key data.path {path!r} does not exist; give a `ma-vlm data generate` "
                                  "folder, or remove data.path to render data.generate into OUTPUT/data")
    if path is None:
        path = Path(output_dir) / "data"
        if is_main and (not any(path.glob("data/*.parquet")) or incomplete_reason(path)):
            from ma_vlm.data.generate import generate_dataset

            config = generation_config(recipe.data.generate)
            shutil.rmtree(path, ignore_errors=True)  # a half-rendered folder from a killed run (ours)
            generate_dataset(path, config, workers=int(os.environ.get("MA_VLM_RENDER_WORKERS", "1")))
        accelerator.wait_for_everyone()
    return load_rgbd_dataset(path, streaming=recipe.data.streaming)


def prompt_sampler(spec: str | None):
    """The sparse-prompt sampler of a recipe's spec ("default": the paper-style mixture), or None."""
    from ma_vlm.data.sparse_prompts import default_prompt_mixture, parse_prompt_spec

    if spec is None:
        return None
    return default_prompt_mixture() if spec == "default" else parse_prompt_spec(spec)


def training_loader(recipe, processor, prompt_spec: str | None, output_dir, accelerator, examples_seen: int,
                    examples_per_step: int):
    """The prepared DataLoader of the run, starting at example `examples_seen` (a resumed run
    continues the uninterrupted stream).

    The loader has its own generator: starting an iterator must not draw from torch's global RNG,
    which training draws from too (DINOv3's RoPE coordinate rescaling); otherwise a resumed run,
    whose iterator starts later, would see another RNG stream than the uninterrupted one."""
    train = recipe.train
    maker = ExampleMaker(processor, prompt_sampler(prompt_spec))
    mixture = source_mixture(training_dataset(recipe, output_dir, accelerator.is_main_process, accelerator),
                             recipe.data.sources, train.seed)
    if recipe.data.streaming:
        stream = StreamingTrainingStream(mixture, maker, train.seed, recipe.data.shuffle_buffer, examples_seen)
        workers = 0  # one process reads the stream in order
    else:
        stream = TrainingStream(mixture, maker, train.seed, examples_seen, train.max_steps * examples_per_step)
        workers = train.num_workers
    return accelerator.prepare(torch.utils.data.DataLoader(
        stream, batch_size=train.batch_size, num_workers=workers, drop_last=True,
        generator=torch.Generator().manual_seed(train.seed)))

