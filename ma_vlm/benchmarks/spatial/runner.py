"""Run a Transformers image-text-to-text model over a benchmark, resumably, then score it.

Works for any model that loads with ``AutoModelForImageTextToText`` and ``AutoProcessor`` and
has a chat template (LLaVA, Qwen2.5-VL, SmolVLM, ma-vlm's own MLLM ...). Answers are appended to
a JSONL file one batch at a time (one write, flushed and fsynced); a rerun reads that file and
skips the items already answered, so an interrupted run continues where it stopped and no item
is answered twice.
"""

from __future__ import annotations

import json
import os

from ma_vlm.benchmarks.spatial.io import append_jsonl, load_items, read_jsonl
from ma_vlm.benchmarks.spatial.registry import Benchmark
from ma_vlm.errors import MaVlmInputError


def _json_fields(item: dict) -> dict:
    """The item's JSON-serialisable fields (images and raw bytes dropped)."""
    kept = {}
    for key, value in item.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        kept[key] = value
    return kept


def _item_keys(items, id_field: str) -> list[str]:
    """Stable keys for resuming: the benchmark's id field when unique, else the row index.
    A ``datasets.Dataset`` is read by column, so no image is decoded for this."""
    if hasattr(items, "column_names"):
        ids = items[id_field] if id_field in items.column_names else [None]
    else:
        ids = [item.get(id_field) for item in items]
    if None not in ids and len({str(i) for i in ids}) == len(ids):
        return [str(i) for i in ids]
    return [f"#{index}" for index in range(len(items))]


def _repair_partial_tail(path: str) -> None:
    """Cut an unterminated last line that a killed writer may have left, so appends stay valid."""
    if not os.path.exists(path):
        return
    with open(path, "rb+") as handle:
        data = handle.read()
        if data and not data.endswith(b"\n"):
            handle.truncate(data.rfind(b"\n") + 1)


class ImageTextGenerator:
    """Greedy batched generation with a Transformers processor + image-text-to-text model."""

    def __init__(self, model_path: str, device: str | None = None, dtype: str = "auto"):
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        import ma_vlm.mllm
        from ma_vlm.model_folders import IMAGE_TEXT_MODEL, check_model_folder, load_failure

        check_model_folder(model_path, "--model", IMAGE_TEXT_MODEL)
        ma_vlm.mllm.register()  # spatial_llava into the Auto classes
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            self.processor = AutoProcessor.from_pretrained(model_path, trust_remote_code=False)
        except (OSError, ValueError) as error:
            raise load_failure("--model", model_path, error) from None
        tokenizer = self.processor.tokenizer
        tokenizer.padding_side = "left"  # generation continues on the right
        if tokenizer.pad_token is None:  # many chat LLMs ship without one; batching needs it
            tokenizer.pad_token = tokenizer.eos_token
        self.model = AutoModelForImageTextToText.from_pretrained(model_path, dtype=dtype, trust_remote_code=False).to(self.device).eval()

    def generate(self, batch: list[tuple[list, str]], max_new_tokens: int) -> list[str]:
        """Answers for ``[(images, text), ...]``, decoded without the prompt."""
        import torch

        prompts, images = [], []
        for item_images, text in batch:
            content = [{"type": "image"} for _ in item_images] + [{"type": "text", "text": text}]
            messages = [{"role": "user", "content": content}]
            prompts.append(self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))
            images.extend(item_images)
        inputs = self.processor(text=prompts, images=images or None, padding=True, return_tensors="pt")
        inputs = inputs.to(self.device)
        with torch.inference_mode():
            output = self.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                         pad_token_id=self.processor.tokenizer.pad_token_id)
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        return self.processor.batch_decode(new_tokens, skip_special_tokens=True)


def run_benchmark(benchmark: Benchmark, generator, predictions_path: str, data: str | None = None,
                  split: str | None = None, batch_size: int = 8, max_new_tokens: int | None = None,
                  limit: int | None = None, subsets=None) -> list[dict]:  # fmt: skip
    """Answer every item not yet in ``predictions_path``; return all records of this benchmark.

    ``limit`` stops after that many new items (to run in slices, or to test resuming). Each
    record holds the item's JSON fields, ``prediction`` and ``_key`` (the resume key).
    """
    from tqdm import tqdm

    items = load_items(benchmark, data, split, subsets)
    if len(items) == 0:
        raise MaVlmInputError(f"{benchmark.name}: the dataset has no items.")
    keys = _item_keys(items, benchmark.id_field)
    os.makedirs(os.path.dirname(os.path.abspath(predictions_path)), exist_ok=True)
    _repair_partial_tail(predictions_path)
    done = {}
    if os.path.exists(predictions_path):
        done = {record["_key"]: record for record in read_jsonl(predictions_path) if "_key" in record}
    todo = [(key, index) for index, key in enumerate(keys) if key not in done]
    if limit is not None:
        todo = todo[:limit]
    root = data if data and os.path.isdir(data) else (os.path.dirname(data) if data else None)
    tokens = max_new_tokens or benchmark.max_new_tokens
    with tqdm(total=len(todo), desc=f"{benchmark.name}", unit="item") as progress:
        for start in range(0, len(todo), batch_size):
            chunk = [(key, dict(items[index])) for key, index in todo[start : start + batch_size]]
            answers = generator.generate([benchmark.prompt(item, root) for _, item in chunk], tokens)
            records = [{**_json_fields(item), "prediction": answer, "_key": key}
                       for (key, item), answer in zip(chunk, answers)]  # fmt: skip
            append_jsonl(predictions_path, records)
            done.update({record["_key"]: record for record in records})
            progress.update(len(chunk))
    return [done[key] for key in keys if key in done]
