"""Answering a question about images with a spatial MLLM: what `ma-vlm chat` and the web app run.

    model, processor = load_chat_model("runs/mllm/model")
    inputs = chat_inputs(processor, [image], "How far is the chair?", intrinsics=[[fx, fy, cx, cy]])
    for text in stream_answer(model, processor, inputs, max_new_tokens=64):   # the answer so far
        print(text)

Decoding is greedy, so `answer` (the whole answer at once) and the last text `stream_answer`
yields are the same string.
"""

from __future__ import annotations

from collections.abc import Iterator

from ma_vlm.errors import MaVlmInputError


def load_chat_model(folder: str, flag: str = "--model"):
    """(model in eval mode, processor) of a spatial MLLM folder, or one line naming `flag`."""
    from transformers import AutoProcessor

    from ma_vlm.mllm import register
    from ma_vlm.mllm.lora import load_spatial_mllm
    from ma_vlm.model_folders import SPATIAL_MLLM, check_model_folder, load_failure

    check_model_folder(folder, flag, SPATIAL_MLLM)
    register()  # AutoProcessor below must know spatial_llava
    try:
        processor = AutoProcessor.from_pretrained(folder, trust_remote_code=False)
        model = load_spatial_mllm(folder).eval()
    except MaVlmInputError:
        raise
    except (OSError, ValueError) as error:
        raise load_failure(flag, folder, error) from None
    return model, processor


def chat_inputs(processor, images: list, question: str, intrinsics: list[list[float]] | None = None):
    """The model's inputs for one user turn: `images` (PIL, in order) then `question`.
    intrinsics: one [fx, fy, cx, cy] (pixels of that image) per image, or None."""
    if not question.strip():
        raise MaVlmInputError("the question is empty; ask something, e.g. \"How far is the chair from the camera?\"")
    content = [{"type": "image"} for _ in images] + [{"type": "text", "text": question}]
    prompt = processor.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True)
    return processor(images=images or None, text=[prompt], intrinsics=intrinsics if images else None)


def _check_max_new_tokens(max_new_tokens: int) -> None:
    if max_new_tokens < 1:
        raise MaVlmInputError(f"--max-new-tokens {max_new_tokens}: give at least 1")


def answer(model, processor, inputs, max_new_tokens: int = 64) -> str:
    """The whole answer (greedy decoding), stripped."""
    import torch

    _check_max_new_tokens(max_new_tokens)
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    return processor.batch_decode(output[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)[0].strip()


def stream_answer(model, processor, inputs, max_new_tokens: int = 64) -> Iterator[str]:
    """The answer so far after each decoded piece (greedy, as `answer`); generation runs in a
    thread that Transformers' `TextIteratorStreamer` reads from, and an error in it is raised here."""
    import threading

    import torch
    from transformers import TextIteratorStreamer

    _check_max_new_tokens(max_new_tokens)
    streamer = TextIteratorStreamer(processor.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)
    failure: list[BaseException] = []

    def generate() -> None:
        try:
            with torch.inference_mode():
                model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False, streamer=streamer)
        except BaseException as error:  # reported by the reader below, after the streamer is closed
            failure.append(error)
            streamer.end()

    worker = threading.Thread(target=generate, daemon=True)
    worker.start()
    text = ""
    for piece in streamer:
        text += piece
        yield text.strip()
    worker.join()
    if failure:
        raise failure[0]
    if not text:
        yield ""
