"""LLaVA-format conversations for training, and SynthSpatial converted to that format.

A LLaVA-format item (JSON list or JSONL, one per line)::

    {"id": "...", "image": "images/0001.png",            # relative to the file's folder (or image_folder)
     "intrinsics": [fx, fy, cx, cy],                     # optional, pixels of that image
     "conversations": [{"from": "human", "value": "<image>\\nHow far is the chair?"},
                       {"from": "gpt", "value": "2.3"}]}

An HF dataset (a saved folder, parquet files or a Hub id) with the same columns works too; its
`image` column may hold decoded images. Items without `image` are text-only.
"""

from __future__ import annotations

import json
from pathlib import Path

from ma_vlm.errors import MaVlmInputError

IGNORE_INDEX = -100  # labels Transformers' loss skips
ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}


def _read_json_items(source: Path):
    """The items of a .json file (one document) or a .jsonl file (one per line); a malformed
    document is named by file, line and column."""
    text = source.read_text()
    if source.suffix == ".json":
        documents = [(1, text)]
    else:
        documents = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    items = []
    for number, document in documents:
        try:
            items.append(json.loads(document))
        except json.JSONDecodeError as error:
            line = error.lineno if source.suffix == ".json" else number
            raise MaVlmInputError(f"{source}:{line}: not valid JSON ({error.msg}, column {error.colno}); "
                                  "fix that line (LLaVA format: one item with 'conversations' per line)") from None
    return items[0] if source.suffix == ".json" else items


def read_conversations(path: str, split: str = "train"):
    """A list of LLaVA-format items from JSON/JSONL, or a `datasets.Dataset` from a dataset
    folder / Hub id."""
    source = Path(path)
    if source.is_file() and source.suffix in (".json", ".jsonl"):
        items = _read_json_items(source)
        if not isinstance(items, list) or not items or "conversations" not in items[0]:
            raise MaVlmInputError(f"{path}: expected a list of items with 'conversations' (LLaVA format)")
        return items
    from datasets import load_dataset, load_from_disk

    from ma_vlm.inputs import check_hub_id

    if not source.exists():
        check_hub_id(str(path), "data.train", max_parts=None)  # a mistyped local file is named, not sent to the Hub
    if source.is_dir() and (source / "dataset_info.json").exists():
        return load_from_disk(str(source))
    return load_dataset(str(source), split=split)


def to_messages(conversations: list[dict], has_image: bool) -> list[dict]:
    """LLaVA `conversations` -> chat messages; the `<image>` placeholder becomes an image part."""
    messages = []
    for turn in conversations:
        role = ROLES.get(turn.get("from") or turn.get("role"))
        if role is None:
            raise MaVlmInputError(f"unknown speaker {turn.get('from')!r}; use 'human'/'gpt' (or 'user'/'assistant')")
        text = turn.get("value", turn.get("content", ""))
        if has_image and "<image>" in text:
            before, after = text.split("<image>", 1)
            parts = ([{"type": "text", "text": before.strip()}] if before.strip() else []) + [{"type": "image"}]
            messages.append({"role": role, "content": parts + [{"type": "text", "text": after.lstrip("\n")}]})
        else:
            messages.append({"role": role, "content": [{"type": "text", "text": text.replace("<image>", "").strip()}]})
    if has_image and not any(p["type"] == "image" for m in messages for p in m["content"]):
        messages[0]["content"].insert(0, {"type": "image"})  # LLaVA puts an unplaced image first
    return messages


def tokenize_conversation(processor, messages: list[dict], max_length: int) -> tuple[list[int], list[int]]:
    """(input_ids, labels) with labels = input_ids on assistant turns and IGNORE_INDEX elsewhere.

    The chat template is rendered turn by turn; each assistant turn's tokens are what its
    message adds after the generation prompt, so the loss never sees user text or template
    tokens before an answer.
    """
    rendered, segments = "", []
    for index, message in enumerate(messages):
        if message["role"] == "assistant":
            prompt = processor.apply_chat_template(messages[:index], add_generation_prompt=True, tokenize=False)
            segments.append((_new_text(rendered, prompt), False))
            rendered = prompt
        text = processor.apply_chat_template(messages[: index + 1], tokenize=False)
        segments.append((_new_text(rendered, text), message["role"] == "assistant"))
        rendered = text
    input_ids, labels = [], []
    expand = processor.image_token * processor.num_image_tokens
    for text, trained in segments:
        ids = processor.tokenizer(text.replace(processor.image_token, expand), add_special_tokens=False)["input_ids"]
        input_ids += ids
        labels += ids if trained else [IGNORE_INDEX] * len(ids)
    if len(input_ids) > max_length:
        raise MaVlmInputError(f"a conversation has {len(input_ids)} tokens > max_length {max_length}; raise data.max_length")
    return input_ids, labels


def _new_text(previous: str, current: str) -> str:
    if not current.startswith(previous):
        raise MaVlmInputError("the chat template does not render conversations incrementally; "
                              "loss masking by turns needs a template whose prefix stays fixed")  # fmt: skip
    return current[len(previous):]


class ConversationDataset:
    """Torch-style dataset of tokenized conversations + preprocessed images.

    use_images=False drops every image (the "no image" baseline: what language priors give).
    """

    def __init__(self, items, processor, image_folder: str | None = None, max_length: int = 1024,
                 use_images: bool = True):  # fmt: skip
        self.items, self.processor = items, processor
        self.image_folder, self.max_length, self.use_images = image_folder, max_length, use_images

    def __len__(self) -> int:
        return len(self.items)

    def _image(self, value):
        from PIL import Image

        if isinstance(value, (str, Path)):
            path = Path(self.image_folder or ".") / value
            if not path.exists():
                raise MaVlmInputError(f"image {path} not found; set data.image_folder to the images' folder")
            return Image.open(path).convert("RGB")
        if isinstance(value, dict) and value.get("bytes") is not None:
            import io

            return Image.open(io.BytesIO(value["bytes"])).convert("RGB")
        return value.convert("RGB") if hasattr(value, "convert") else value

    def __getitem__(self, index: int) -> dict:
        import torch

        item = self.items[index]
        has_image = self.use_images and item.get("image") is not None
        input_ids, labels = tokenize_conversation(self.processor, to_messages(item["conversations"], has_image),
                                                  self.max_length)  # fmt: skip
        example = {"input_ids": torch.tensor(input_ids), "labels": torch.tensor(labels)}
        if has_image:
            intrinsics = item.get("intrinsics")
            kwargs = {"intrinsics": [intrinsics]} if intrinsics is not None else {}
            pixels = self.processor.image_processor([self._image(item["image"])], return_tensors="pt", **kwargs)
            example["pixel_values"] = pixels["pixel_values"][0]
            if "intrinsics" in pixels:
                example["intrinsics"] = pixels["intrinsics"][0]
        return example


class ConversationCollator:
    """Pads a list of `ConversationDataset` examples (right padding) into a batch."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, examples: list[dict]) -> dict:
        import torch
        from torch.nn.utils.rnn import pad_sequence

        batch = {
            "input_ids": pad_sequence([e["input_ids"] for e in examples], batch_first=True, padding_value=self.pad_token_id),
            "labels": pad_sequence([e["labels"] for e in examples], batch_first=True, padding_value=IGNORE_INDEX),
        }  # fmt: skip
        lengths = torch.tensor([len(e["input_ids"]) for e in examples])
        batch["attention_mask"] = (torch.arange(batch["input_ids"].shape[1])[None] < lengths[:, None]).long()
        with_images = [e for e in examples if "pixel_values" in e]
        if with_images:
            batch["pixel_values"] = torch.stack([e["pixel_values"] for e in with_images])
            if all("intrinsics" in e for e in with_images):
                batch["intrinsics"] = torch.stack([e["intrinsics"] for e in with_images])
        return batch


def synthspatial_to_llava(folder: str, output: str, split: str = "train") -> int:
    """Write a SynthSpatial split as LLaVA-format JSONL (`output`) with its images as PNG files
    in `<output stem>_images/`. The question is the benchmark prompt's text; the answer is the
    ground truth (the option letter for multiple choice). Returns the number of items."""
    from tqdm import tqdm

    from ma_vlm.atomic_io import write_text_atomic
    from ma_vlm.benchmarks.spatial.io import load_local_split
    from ma_vlm.benchmarks.spatial.question_prompts import vsi_style_text
    from ma_vlm.benchmarks.spatial.synthspatial import check_synthspatial_folder

    check_synthspatial_folder(folder, "--synthspatial")
    rows = load_local_split(folder, split)
    out = Path(output)
    image_dir = out.parent / f"{out.stem}_images"
    image_dir.mkdir(parents=True, exist_ok=True)
    lines, saved = [], set()
    for row in tqdm(rows, desc=f"SynthSpatial {split} -> LLaVA", unit="question"):
        image_name = f"{row['id'].rsplit('-', 1)[0].replace('/', '_')}.png"  # "<scene>-<view>-<question>": one image per view
        if image_name not in saved:  # all questions of a view share its image
            row["image"].convert("RGB").save(image_dir / image_name)
            saved.add(image_name)
        question = vsi_style_text(row, "")  # the text `ma-vlm eval spatial` asks, word for word
        lines.append(json.dumps({
            "id": row["id"], "image": f"{image_dir.name}/{image_name}", "intrinsics": row["intrinsics"],
            "question_type": row["question_type"],
            "conversations": [{"from": "human", "value": "<image>\n" + question},
                              {"from": "gpt", "value": str(row["ground_truth"])}],
        }))  # fmt: skip
    write_text_atomic(output, "\n".join(lines) + "\n")
    return len(lines)
