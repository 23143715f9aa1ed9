"""A spatial MLLM from parts: any causal LM + the Metric Anything tower + a projector.

The first use of any name below (or `ma_vlm.mllm.register()`) registers `spatial_llava` with
AutoConfig, AutoModelForImageTextToText, AutoProcessor and AutoImageProcessor
(`ma_vlm.registration.register_mllm` says why not at `import ma_vlm`), so saved folders load with
`AutoModelForImageTextToText.from_pretrained(folder)` / `AutoProcessor.from_pretrained(folder)`,
without trust_remote_code. Nothing heavy runs at import, so `ma-vlm --help` (which imports
`ma_vlm.mllm.cli`) stays free of torch. Open `build.py` to
assemble one, `chat.py` to ask it a question (whole or streamed), `lora.py` for PEFT stages, `train.py` for `ma-vlm train mllm`.
"""

from importlib import import_module

_LAZY = {
    "SMOLLM2_GGUF": "ma_vlm.mllm.build",
    "build_spatial_mllm": "ma_vlm.mllm.build",
    "load_causal_lm": "ma_vlm.mllm.build",
    "load_tower": "ma_vlm.mllm.build",
    "smollm2_folder": "ma_vlm.mllm.build",
    "answer": "ma_vlm.mllm.chat",
    "chat_inputs": "ma_vlm.mllm.chat",
    "load_chat_model": "ma_vlm.mllm.chat",
    "stream_answer": "ma_vlm.mllm.chat",
    "SpatialLlavaConfig": "ma_vlm.mllm.configuration_spatial_llava",
    "STAGES": "ma_vlm.mllm.lora",
    "LoraSettings": "ma_vlm.mllm.lora",
    "apply_stage": "ma_vlm.mllm.lora",
    "load_spatial_mllm": "ma_vlm.mllm.lora",
    "SpatialLlavaForConditionalGeneration": "ma_vlm.mllm.modeling_spatial_llava",
    "SpatialLlavaModel": "ma_vlm.mllm.modeling_spatial_llava",
    "SpatialLlavaProcessor": "ma_vlm.mllm.processing_spatial_llava",
    "PROJECTOR_TYPES": "ma_vlm.mllm.projector",
    "build_projector": "ma_vlm.mllm.projector",
    "projected_token_count": "ma_vlm.mllm.projector",
}

__all__ = ["register", *_LAZY]


def register() -> None:
    """Register `spatial_llava` with the Auto classes (idempotent)."""
    from ma_vlm.registration import register_mllm

    register_mllm()


def __getattr__(name: str):
    if name in _LAZY:
        register()
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ma_vlm.mllm' has no attribute {name!r}")
