"""What a model is shown for one benchmark item: ``(images, text)``.

The texts follow the default prompts lmms-eval 0.7.x uses for each task, so a model run here
and one run through lmms-eval see the same question. Images come back as RGB PIL images;
fields holding a path are opened relative to ``root`` (the local copy's folder).
"""

from __future__ import annotations

import io
import os
import re

from ma_vlm.errors import MaVlmInputError

MCA_INSTRUCTION = "Answer with the option's letter from the given choices directly."
NA_INSTRUCTION = "Please answer the question using a single word or phrase."


def open_image(value, root: str | None = None):
    """A PIL RGB image from a PIL image, ``{"bytes"|"path"}`` dict, raw bytes or a path."""
    from PIL import Image

    if isinstance(value, dict):
        value = value.get("bytes") or value.get("path")
    if isinstance(value, (bytes, bytearray)):
        return Image.open(io.BytesIO(value)).convert("RGB")
    if isinstance(value, str):
        path = value if os.path.isabs(value) or root is None else os.path.join(root, value)
        if not os.path.exists(path):
            raise MaVlmInputError(f"image file {path!r} not found; pass --data the benchmark copy's folder.")
        return Image.open(path).convert("RGB")
    if hasattr(value, "convert"):
        return value.convert("RGB")
    raise MaVlmInputError(f"cannot read an image from a {type(value).__name__}; expected PIL, bytes or a path.")


def _letters_note(count: int) -> str:
    letters = ", ".join(chr(65 + i) for i in range(count))
    return f"Note: You only need to respond with {letters} without providing any additional information.\n"


def vsi_style_text(item: dict, pre_prompt: str) -> str:
    """VSI-Bench text: pre-prompt, question, then options and the letter instruction (multiple
    choice) or the short-answer instruction (numerical)."""
    lines = [pre_prompt] if pre_prompt else []
    lines.append(item["question"])
    if item.get("options"):
        lines += ["Options:\n" + "\n".join(item["options"]), MCA_INSTRUCTION]
    else:
        lines.append(NA_INSTRUCTION)
    return "\n".join(lines)


def synthspatial_prompt(item: dict, root=None):
    return [open_image(item["image"], root)], vsi_style_text(item, "")


def vsibench_prompt(item: dict, root=None, num_frames: int = 8):
    """VSI-Bench items are videos ``{root}/{dataset}/{scene_name}.mp4``: ``num_frames`` frames
    evenly spaced from first to last (PyAV decodes them)."""
    import numpy as np

    if root is None:
        raise MaVlmInputError("vsibench needs --data: the folder holding {dataset}/{scene_name}.mp4 videos.")
    path = os.path.join(root, item["dataset"], f"{item['scene_name']}.mp4")
    if not os.path.exists(path):
        raise MaVlmInputError(f"VSI-Bench video {path!r} not found; download the videos into --data.")
    import av

    with av.open(path) as container:
        frames = [frame.to_image() for frame in container.decode(video=0)]
    picks = np.linspace(0, len(frames) - 1, min(num_frames, len(frames))).astype(int)
    return [frames[i] for i in picks], vsi_style_text(item, "These are frames of a video.")


def cv_bench_prompt(item: dict, root=None):
    return [open_image(item["image"], root)], _letters_note(len(item["choices"])) + "\n" + item["prompt"]


def blink_prompt(item: dict, root=None):
    keys = sorted(k for k in item if re.fullmatch(r"image_\d+", k) and item[k] is not None)
    return [open_image(item[k], root) for k in keys], _letters_note(len(item["choices"])) + item["prompt"]


def embspatial_prompt(item: dict, root=None):
    options = "\n".join(f"{chr(65 + i)}) {text}" for i, text in enumerate(item["answer_options"]))
    return [open_image(item["image"], root)], _letters_note(4) + item["question"] + "\n" + options


def threedsr_prompt(item: dict, root=None):
    options = "".join(
        f"{letter}. {item[letter]}\n"
        for letter in "ABCD"
        if item.get(letter) is not None and str(item[letter]).lower() != "nan"
    )
    text = f"Question: {item['question']}\n" + (f"Options:\n{options}" if options else "")
    return [open_image(item["image"], root)], text + "Please select the correct answer from the options above. \n"


def sat_prompt(item: dict, root=None):
    """SAT question and lettered answers. lmms-eval's ``sat`` task also inserts a paragraph of
    multi-image hints after the question; it is not added here, so answers may differ from an
    lmms-eval run (the scoring is the same)."""
    images = item.get("image_bytes") or item.get("images") or []
    options = "".join(f"{chr(65 + i)}. {text}\n" for i, text in enumerate(item["answers"]))
    text = item["question"].strip() + "\n\n" + options + "\n" + MCA_INSTRUCTION
    return [open_image(image, root) for image in images], text


def spatialbench_prompt(item: dict, root=None):
    paths = item["image"] if isinstance(item["image"], list) else [item["image"]]
    return [open_image(path, root) for path in paths], item["question"]
