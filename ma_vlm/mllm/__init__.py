"""A spatial MLLM from parts: any causal LM + the Metric Anything tower + a projector.

Importing this package registers `spatial_llava` with AutoConfig, AutoModelForImageTextToText
and AutoProcessor (and the tower's classes through `ma_vlm.encoders`), so saved folders load
with `AutoModelForImageTextToText.from_pretrained(folder)` / `AutoProcessor.from_pretrained(folder)`,
without trust_remote_code. Open `build.py` to assemble one, `lora.py` for PEFT stages,
`train.py` for `ma-vlm train mllm`.
"""

from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageTextToText, AutoProcessor

import ma_vlm.encoders  # noqa: F401  (registers metric_anything: the tower inside the config)
from ma_vlm.mllm.build import SMOLLM2_GGUF, build_spatial_mllm, load_causal_lm, load_tower, smollm2_folder
from ma_vlm.mllm.configuration_spatial_llava import SpatialLlavaConfig
from ma_vlm.mllm.lora import STAGES, LoraSettings, apply_stage, load_spatial_mllm
from ma_vlm.mllm.modeling_spatial_llava import SpatialLlavaForConditionalGeneration, SpatialLlavaModel
from ma_vlm.mllm.processing_spatial_llava import SpatialLlavaProcessor
from ma_vlm.mllm.projector import PROJECTOR_TYPES, build_projector, projected_token_count

AutoConfig.register(SpatialLlavaConfig.model_type, SpatialLlavaConfig, exist_ok=True)
AutoModelForImageTextToText.register(SpatialLlavaConfig, SpatialLlavaForConditionalGeneration, exist_ok=True)
AutoProcessor.register(SpatialLlavaConfig, SpatialLlavaProcessor, exist_ok=True)
# AutoProcessor resolves the image processor through the folder's config (spatial_llava)
AutoImageProcessor.register(SpatialLlavaConfig, image_processor_classes={"pil": ma_vlm.encoders.MetricAnythingImageProcessor},
                            exist_ok=True)  # fmt: skip

__all__ = [
    "PROJECTOR_TYPES",
    "SMOLLM2_GGUF",
    "STAGES",
    "LoraSettings",
    "apply_stage",
    "load_spatial_mllm",
    "SpatialLlavaConfig",
    "SpatialLlavaForConditionalGeneration",
    "SpatialLlavaModel",
    "SpatialLlavaProcessor",
    "build_projector",
    "build_spatial_mllm",
    "load_causal_lm",
    "load_tower",
    "projected_token_count",
    "smollm2_folder",
]
