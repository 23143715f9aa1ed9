"""lmms-eval model adapter: any Transformers image-text-to-text model, as ``--model ma_vlm``.

Registered through the ``lmms_eval.models`` entry point (``lmms_eval_manifests`` below), so after
``pip install 'ma-vlm[eval]'``::

    lmms-eval --model ma_vlm --model_args pretrained=PATH_OR_ID,batch_size=8 \\
        --tasks synthspatial --include_path eval/lmms_eval/tasks

Generation goes through the same ``ImageTextGenerator`` as ``ma-vlm eval spatial``
(AutoProcessor + AutoModelForImageTextToText, chat template, greedy), so both paths give the
same answers. Only ``generate_until`` is supported: spatial benchmarks are generative. A visual
that is a video file (VSI-Bench's tasks hand over ``.mp4`` paths) becomes ``max_num_frames``
frames sampled evenly from first to last, passed to the model as that many images.
"""

from __future__ import annotations

from lmms_eval.api.model import lmms

from ma_vlm.benchmarks.spatial.runner import ImageTextGenerator


def lmms_eval_manifests():
    """Entry-point payload: the model id lmms-eval resolves to this adapter."""
    from lmms_eval.models.registry_v2 import ModelManifest

    return [ModelManifest(model_id="ma_vlm", simple_class_path=f"{__name__}.MaVlmImageTextModel", aliases=("ma-vlm",))]


VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".avi", ".mov")


def sample_video_frames(path: str, max_num_frames: int) -> list:
    """Up to ``max_num_frames`` RGB frames (PIL images) of the video at ``path``, evenly spaced
    from the first frame to the last; every frame is decoded, only the chosen ones are kept."""
    import av
    import numpy as np

    from ma_vlm.errors import MaVlmInputError

    try:
        with av.open(path) as container:
            total = container.streams.video[0].frames or sum(1 for _ in container.decode(video=0))
        wanted = set(np.linspace(0, max(total - 1, 0), min(max_num_frames, max(total, 1))).round().astype(int).tolist())
        with av.open(path) as container:
            frames = [frame.to_image() for index, frame in enumerate(container.decode(video=0)) if index in wanted]
    except (av.error.FFmpegError, IndexError) as error:
        raise MaVlmInputError(f"video {path} cannot be decoded ({error}); check the file, or re-encode it as H.264 MP4") from error
    if not frames:
        raise MaVlmInputError(f"video {path} has no frames; check the file")
    return frames


def _as_images(visuals, max_num_frames: int) -> list:
    images = []
    for visual in visuals:
        if isinstance(visual, str) and visual.lower().endswith(VIDEO_SUFFIXES):
            images.extend(sample_video_frames(visual, max_num_frames))
        else:
            images.append(visual)
    return images


def _cut_at_stop_strings(text: str, until) -> str:
    for stop in [until] if isinstance(until, str) else (until or []):
        if stop:
            text = text.split(stop)[0]
    return text


class MaVlmImageTextModel(lmms):
    """``pretrained``: model id or folder; ``device``, ``dtype``, ``batch_size``, ``max_new_tokens``
    (default when a task gives none) and ``max_num_frames`` (frames per video, default 8) come from
    ``--model_args``."""

    is_simple = True

    def __init__(self, pretrained: str, device: str | None = None, dtype: str = "auto", batch_size: int = 1,
                 max_new_tokens: int = 16, max_num_frames: int = 8, **unused) -> None:  # fmt: skip
        super().__init__()
        self.max_num_frames = int(max_num_frames)
        self.generator = ImageTextGenerator(pretrained, device=device, dtype=dtype)
        self.batch_size_per_gpu = int(batch_size)
        self.default_max_new_tokens = int(max_new_tokens)

    @property
    def batch_size(self) -> int:
        return self.batch_size_per_gpu

    def generate_until(self, requests) -> list[str]:
        """Answers in request order; requests are batched when they share generation settings."""
        from tqdm import tqdm

        answers: list[str | None] = [None] * len(requests)
        groups: dict[tuple, list[int]] = {}
        for index, request in enumerate(requests):
            gen_kwargs = request.args[1] or {}
            key = (int(gen_kwargs.get("max_new_tokens", self.default_max_new_tokens)), str(gen_kwargs.get("until")))
            groups.setdefault(key, []).append(index)
        with tqdm(total=len(requests), desc="ma_vlm responding") as progress:
            for (max_new_tokens, _), indices in groups.items():
                for start in range(0, len(indices), self.batch_size):
                    chunk = indices[start : start + self.batch_size]
                    batch = []
                    for index in chunk:
                        context, _, doc_to_visual, doc_id, task, split = requests[index].args
                        visuals = doc_to_visual(self.task_dict[task][split][doc_id]) or []
                        batch.append((_as_images(visuals, self.max_num_frames), context))
                    for index, text in zip(chunk, self.generator.generate(batch, max_new_tokens)):
                        gen_kwargs = requests[index].args[1] or {}
                        answers[index] = _cut_at_stop_strings(text, gen_kwargs.get("until"))
                        self.cache_hook.add_partial("generate_until", (requests[index].args[0], gen_kwargs), answers[index])
                    progress.update(len(chunk))
        return answers

    def loglikelihood(self, requests):
        raise NotImplementedError("ma_vlm's lmms-eval adapter only generates; use generative (generate_until) tasks.")

    def generate_until_multi_round(self, requests):
        raise NotImplementedError("ma_vlm's lmms-eval adapter does not support multi-round generation.")
