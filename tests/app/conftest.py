"""The page on a free local port with tiny models the tests make: a depth model and a teacher
(256 px, random weights, positive depth), a converted official-format Student-PointMap and a
spatial MLLM (2-layer Llama with SmolLM2's tokenizer + the tiny tower)."""

import json
import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # app_helpers, as tests/conftest.py does for tests/


@pytest.fixture(scope="session")
def app_model_folders(tmp_path_factory, smollm2_tokenizer_folder):
    """{"depth", "teacher", "pointmap", "mllm"} -> tiny model folders."""
    import torch
    from reliability.reliability_helpers import save_tiny_model
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from ma_vlm.cli import main
    from ma_vlm.mllm import build_spatial_mllm
    from ma_vlm.models.metric_anything import MetricAnythingModel
    from ma_vlm.testing.pointmap_reference import make_pointmap_checkpoint

    root = tmp_path_factory.mktemp("app_models")
    folders = {"depth": save_tiny_model(root / "depth"), "teacher": save_tiny_model(root / "teacher", use_prompt=True)}
    torch.save(make_pointmap_checkpoint(seed=0), root / "student_pointmap.pt")
    assert main(["convert", str(root / "student_pointmap.pt"), str(root / "pointmap")]) == 0
    folders["pointmap"] = root / "pointmap"
    tokenizer = AutoTokenizer.from_pretrained(smollm2_tokenizer_folder)
    torch.manual_seed(0)
    llm = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer) + 1, hidden_size=32, intermediate_size=64,
                                       num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                       tie_word_embeddings=True))  # fmt: skip
    from reliability.reliability_helpers import tiny_config

    tower = MetricAnythingModel(tiny_config())
    model, processor = build_spatial_mllm(llm, tower, tokenizer, projector_type="pixel_shuffle", token_reduction=2)
    model.save_pretrained(root / "mllm")
    processor.save_pretrained(root / "mllm")
    folders["mllm"] = root / "mllm"
    return folders


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def served_page(app_model_folders, tmp_path_factory):
    """(url, state) of the page serving the tiny models, started from an empty working folder
    (so it finds nothing of its own and uses the flags)."""
    from ma_vlm.app.cli import start_page
    from ma_vlm.app.page import serve

    empty = tmp_path_factory.mktemp("checkout")
    page, state = start_page({role: str(folder) for role, folder in app_model_folders.items()}, root=str(empty))
    assert all(choice.loaded is not None for choice in state.models.values()), {
        name: choice.problem for name, choice in state.models.items()}
    port = free_port()
    serve(page, "127.0.0.1", port, block=False, quiet=True)
    yield f"http://127.0.0.1:{port}/", state
    page.close()


@pytest.fixture(scope="session")
def photo(tmp_path_factory):
    """A 64 x 48 photo with its camera file (fx = fy = 60 px)."""
    from reliability.reliability_helpers import write_photo

    path = write_photo(tmp_path_factory.mktemp("user") / "photo.png")
    assert json.loads(path.with_suffix(".json").read_text())["cam_in"][0] == 60
    return path
