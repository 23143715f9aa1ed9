"""The Metric Anything tower in Transformers (`model_type` `metric_anything`): config, the tower,
the depth model, the image processor, presets and the converter of the official checkpoint.

`import ma_vlm` (which this package implies) registers the type with AutoConfig, AutoModel,
AutoModelForDepthEstimation and AutoImageProcessor (`ma_vlm.registration` says how), so saved
folders load through the Auto classes and as the `vision_config` of Transformers' own LLaVA,
without trust_remote_code. The names below load on first use.
"""

from ma_vlm.lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    ".configuration_metric_anything": ["MetricAnythingConfig"],
    ".configuration_metric_anything_vit": ["MetricAnythingViTConfig"],
    ".image_processing_metric_anything": ["MetricAnythingImageProcessor"],
    ".modeling_metric_anything": ["MetricAnythingDepthEstimatorOutput", "MetricAnythingForDepthEstimation",
                                  "MetricAnythingModel", "MetricAnythingModelOutput", "MetricAnythingPreTrainedModel"],
    ".presets": ["PRESETS", "preset_config"],
})
