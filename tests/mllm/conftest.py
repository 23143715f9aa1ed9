"""Tiny spatial MLLMs for the tests: a random 2-layer Llama with SmolLM2's real tokenizer (and
chat template, tests/conftest.py) + the tiny Metric Anything tower."""


import pytest


@pytest.fixture
def build_tiny(smollm2_tokenizer_folder):
    """build_tiny(projector_type="mlp", token_reduction=1, seed=0, **build_options) -> (model, processor)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from ma_vlm.mllm import build_spatial_mllm
    from ma_vlm.models.metric_anything import MetricAnythingModel, preset_config

    def build(projector_type="mlp", token_reduction=1, seed=0, **options):
        tokenizer = AutoTokenizer.from_pretrained(smollm2_tokenizer_folder)
        torch.manual_seed(seed)
        llm = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer) + 1, hidden_size=32, intermediate_size=64,
                                           num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                           tie_word_embeddings=True))  # fmt: skip
        tower = MetricAnythingModel(preset_config("tiny"))
        return build_spatial_mllm(llm, tower, tokenizer, projector_type=projector_type, token_reduction=token_reduction,
                                  **options)

    return build


@pytest.fixture(scope="session")
def llava_jsonl(tmp_path_factory):
    """8 LLaVA-format conversations about 4 small images (two sizes), answers that depend on the image."""
    import json

    import numpy as np
    from PIL import Image

    folder = tmp_path_factory.mktemp("llava_data")
    (folder / "images").mkdir()
    lines = []
    for index in range(8):
        brightness = 40 if index % 2 else 220
        size = (48, 64) if index % 4 < 2 else (64, 40)
        Image.fromarray(np.full((*size, 3), brightness, np.uint8)).save(folder / "images" / f"{index}.png")
        lines.append(json.dumps({
            "id": str(index), "image": f"images/{index}.png", "intrinsics": [50.0, 50.0, size[1] / 2, size[0] / 2],
            "conversations": [{"from": "human", "value": "<image>\nIs the room dark or bright?"},
                              {"from": "gpt", "value": "dark" if index % 2 else "bright"}],
        }))  # fmt: skip
    (folder / "train.jsonl").write_text("\n".join(lines) + "\n")
    return str(folder / "train.jsonl")


@pytest.fixture
def write_recipe():
    return _write_recipe


def _write_recipe(path, llm, data, output_steps=4, **train):
    """A tiny recipe file (random tiny tower, LoRA stage) for `ma-vlm train mllm`."""
    import yaml

    recipe = {
        "model": {"llm": llm, "tower": None, "tower_preset": "tiny", "projector_type": "pixel_shuffle",
                  "token_reduction": 2},
        "stage": "lora", "lora": {"rank": 4, "alpha": 8, "dropout": 0.0},
        "data": {"train": data, "max_length": 256},
        "train": {"seed": 0, "max_steps": output_steps, "per_device_train_batch_size": 2, "learning_rate": 1e-3,
                  "logging_steps": 1, "save_steps": 2, "save_total_limit": 5, "bf16": "auto", "use_cpu": True,
                  "data_seed": 0, **train},
    }  # fmt: skip
    path.write_text(yaml.safe_dump(recipe))
    return str(path)
