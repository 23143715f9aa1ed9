"""A spatial MLLM from parts: any causal LM + the Metric Anything tower + a projector.

The first use of any name below (or `ma_vlm.mllm.register()`) registers `spatial_llava` with
AutoConfig, AutoModelForImageTextToText, AutoProcessor and AutoImageProcessor
(`ma_vlm.registration` says why not at `import ma_vlm`), so saved folders load with
`AutoModelForImageTextToText.from_pretrained(folder)` / `AutoProcessor.from_pretrained(folder)`,
without trust_remote_code. Nothing heavy runs at import, so `ma-vlm --help` (which imports
`ma_vlm.mllm.cli`) stays free of torch. Open `build.py` to
assemble one, `chat.py` to ask it a question (whole or streamed), `lora.py` for PEFT stages, `train.py` for `ma-vlm train mllm`.
"""

from ma_vlm.lazy import lazy_exports
from ma_vlm.registration import ensure_registered


def register() -> None:
    """Register `spatial_llava` with the Auto classes (idempotent)."""
    ensure_registered("spatial_llava")


__getattr__, _lazy_names = lazy_exports(__name__, {
    ".build": ["SMOLLM2_GGUF", "build_spatial_mllm", "load_causal_lm", "load_tower", "smollm2_folder"],
    ".chat": ["answer", "chat_inputs", "load_chat_model", "stream_answer"],
    ".configuration_spatial_llava": ["SpatialLlavaConfig"],
    ".lora": ["STAGES", "LoraSettings", "apply_stage", "load_spatial_mllm"],
    ".modeling_spatial_llava": ["SpatialLlavaForConditionalGeneration", "SpatialLlavaModel"],
    ".processing_spatial_llava": ["SpatialLlavaProcessor"],
    ".projector": ["PROJECTOR_TYPES", "build_projector", "projected_token_count"],
}, before_first_use=register)
__all__ = ["register", *_lazy_names]
