"""The Metric Anything tower in Transformers: config, models, image processor, conversion.

Importing this package registers `metric_anything` (and the point-map model,
`metric_anything_pointmap`) with AutoConfig, AutoModel,
AutoModelForDepthEstimation and AutoImageProcessor, so saved folders load through the Auto
classes and as the `vision_config` of Transformers' own LLaVA, without trust_remote_code.
"""

from transformers import AutoConfig, AutoImageProcessor, AutoModel, AutoModelForDepthEstimation

from ma_vlm.encoders.configuration_metric_anything import MetricAnythingConfig, MetricAnythingViTConfig
from ma_vlm.encoders.image_processing_metric_anything import MetricAnythingImageProcessor
from ma_vlm.encoders.inference import predict_metric_depth
from ma_vlm.encoders.modeling_metric_anything import (
    MetricAnythingDepthEstimatorOutput,
    MetricAnythingForDepthEstimation,
    MetricAnythingModel,
    MetricAnythingModelOutput,
    MetricAnythingPreTrainedModel,
)
from ma_vlm.encoders.presets import PRESETS, preset_config
from ma_vlm.encoders.configuration_metric_anything_pointmap import MetricAnythingPointMapConfig
from ma_vlm.encoders.image_processing_metric_anything_pointmap import MetricAnythingPointMapImageProcessor
from ma_vlm.encoders.modeling_metric_anything_pointmap import (
    MetricAnythingForPointMapEstimation,
    MetricAnythingPointMapOutput,
)
from ma_vlm.encoders.presets_pointmap import POINTMAP_PRESETS, pointmap_preset_config

AutoConfig.register(MetricAnythingConfig.model_type, MetricAnythingConfig, exist_ok=True)
AutoConfig.register(MetricAnythingViTConfig.model_type, MetricAnythingViTConfig, exist_ok=True)
AutoModel.register(MetricAnythingConfig, MetricAnythingModel, exist_ok=True)
AutoModelForDepthEstimation.register(MetricAnythingConfig, MetricAnythingForDepthEstimation, exist_ok=True)
AutoImageProcessor.register(
    MetricAnythingConfig, image_processor_classes={"pil": MetricAnythingImageProcessor}, exist_ok=True
)
AutoConfig.register(MetricAnythingPointMapConfig.model_type, MetricAnythingPointMapConfig, exist_ok=True)
AutoModel.register(MetricAnythingPointMapConfig, MetricAnythingForPointMapEstimation, exist_ok=True)
AutoModelForDepthEstimation.register(MetricAnythingPointMapConfig, MetricAnythingForPointMapEstimation, exist_ok=True)
AutoImageProcessor.register(
    MetricAnythingPointMapConfig, image_processor_classes={"pil": MetricAnythingPointMapImageProcessor}, exist_ok=True
)

__all__ = [
    "MetricAnythingConfig",
    "MetricAnythingForPointMapEstimation",
    "MetricAnythingPointMapConfig",
    "MetricAnythingPointMapImageProcessor",
    "MetricAnythingPointMapOutput",
    "pointmap_preset_config",
    "MetricAnythingDepthEstimatorOutput",
    "MetricAnythingForDepthEstimation",
    "MetricAnythingImageProcessor",
    "MetricAnythingModel",
    "MetricAnythingModelOutput",
    "MetricAnythingPreTrainedModel",
    "POINTMAP_PRESETS",
    "PRESETS",
    "predict_metric_depth",
    "preset_config",
]
