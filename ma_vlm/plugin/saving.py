"""Save and load a plugged MLLM with one call each, and choose what trains.

    save_depth_prior(model, "out/")         # the MLLM (save_pretrained) + out/depth_prior/
    model = load_depth_prior("out/")        # same logits as before saving
    model = load_depth_prior("out/", model) # or plug the saved prior onto an MLLM you loaded

Layout of out/depth_prior/: `config.json` (DepthPriorConfig), `model.safetensors` (the new
layers only) and `depth_model/` (the Metric Anything model, save_pretrained).
"""

from __future__ import annotations

import json
import os

from ma_vlm.atomic_io import atomic_path, write_text_atomic
from ma_vlm.errors import MaVlmInputError

PLUGIN_FOLDER = "depth_prior"


def _prior(model):
    prior = getattr(model, "depth_prior", None)
    if prior is None:
        raise MaVlmInputError("this model has no depth prior; plug one with ma_vlm.plugin.add_depth_prior")
    return prior


def save_depth_prior(model, save_directory: str, save_base_model: bool = True) -> None:
    """Write the plugged MLLM: the base model (its own `save_pretrained`, plugin keys left out) and the plugin."""
    from safetensors.torch import save_file

    prior = _prior(model)
    if save_base_model:
        base_state = {k: v for k, v in model.state_dict().items() if not k.startswith(f"{PLUGIN_FOLDER}.")}
        model.save_pretrained(save_directory, state_dict=base_state)
    folder = os.path.join(save_directory, PLUGIN_FOLDER)
    prior.depth_model.save_pretrained(os.path.join(folder, "depth_model"))
    tensors = {k: v.detach().contiguous() for k, v in prior.plugin_state_dict().items()}
    with atomic_path(os.path.join(folder, "model.safetensors")) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt"})
    write_text_atomic(os.path.join(folder, "config.json"), prior.config.to_json_string())


def load_depth_prior(path: str, model=None, **from_pretrained_kwargs):
    """Rebuild a plugged MLLM saved by `save_depth_prior`. With `model` given, the saved prior is
    plugged onto it; otherwise the base model is loaded from `path` with its saved architecture."""
    import transformers
    from safetensors.torch import load_file
    from transformers import AutoModelForDepthEstimation

    import ma_vlm  # noqa: F401  registers metric_anything with the Auto classes
    from ma_vlm.plugin.configuration_depth_prior import DepthPriorConfig
    from ma_vlm.plugin.modeling_depth_prior import add_depth_prior

    folder = os.path.join(path, PLUGIN_FOLDER)
    if not os.path.isfile(os.path.join(folder, "config.json")):
        raise MaVlmInputError(f"{path} holds no {PLUGIN_FOLDER}/config.json; save it with save_depth_prior(model, path)")
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as handle:
        config = DepthPriorConfig.from_dict(json.load(handle))
    if model is None:
        model_class = getattr(transformers, config.architecture)
        model = model_class.from_pretrained(path, **{"trust_remote_code": False, **from_pretrained_kwargs})
    depth_model = AutoModelForDepthEstimation.from_pretrained(os.path.join(folder, "depth_model"), trust_remote_code=False)
    options = {k: getattr(config, k) for k in ("concat_tokens_per_side", "cross_attention_layers", "num_heads",
                                               "num_bands", "encoding_hidden_size")}  # fmt: skip
    add_depth_prior(model, depth_model, mode=config.mode, position_encoding_3d=config.position_encoding_3d, **options)
    state = load_file(os.path.join(folder, "model.safetensors"))
    # the depth model was loaded by from_pretrained above; strict=True still checks every new layer
    state.update({f"depth_model.{k}": v for k, v in depth_model.state_dict().items()})
    model.depth_prior.load_state_dict(state, strict=True)
    return model


def freeze_all_but_depth_prior(model, train_depth_model: bool = False) -> list:
    """`align` stage for a plugged MLLM: only the plugin's new layers (and, if asked, the Metric
    Anything model) keep requires_grad. Returns the trainable parameters (give them to the optimiser)."""
    prior = _prior(model)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    trainable = prior.plugin_parameters() + (list(prior.depth_model.parameters()) if train_depth_model else [])
    for parameter in trainable:
        parameter.requires_grad_(True)
    return trainable
