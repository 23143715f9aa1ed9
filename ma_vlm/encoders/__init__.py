"""The Metric Anything tower in Transformers: config, models, image processor, conversion.

`import ma_vlm` (which this package implies) registers `metric_anything` with AutoConfig,
AutoModel, AutoModelForDepthEstimation and AutoImageProcessor (`ma_vlm.registration` says how),
so saved folders load through the Auto classes and as the `vision_config` of Transformers' own
LLaVA, without trust_remote_code. The names below load on first use.
"""

from importlib import import_module

_LAZY = {
    "MetricAnythingConfig": "ma_vlm.encoders.configuration_metric_anything",
    "MetricAnythingViTConfig": "ma_vlm.encoders.configuration_metric_anything_vit",
    "MetricAnythingImageProcessor": "ma_vlm.encoders.image_processing_metric_anything",
    "predict_metric_depth": "ma_vlm.encoders.inference",
    "MetricAnythingDepthEstimatorOutput": "ma_vlm.encoders.modeling_metric_anything",
    "MetricAnythingForDepthEstimation": "ma_vlm.encoders.modeling_metric_anything",
    "MetricAnythingModel": "ma_vlm.encoders.modeling_metric_anything",
    "MetricAnythingModelOutput": "ma_vlm.encoders.modeling_metric_anything",
    "MetricAnythingPreTrainedModel": "ma_vlm.encoders.modeling_metric_anything",
    "PRESETS": "ma_vlm.encoders.presets",
    "preset_config": "ma_vlm.encoders.presets",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ma_vlm.encoders' has no attribute {name!r}")
