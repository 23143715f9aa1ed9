"""Student-PointMap in Transformers (`model_type` `metric_anything_pointmap`): the MoGe-2 layout on
`Dinov2Model`, its image processor, presets, the converter of the official checkpoint, and the
least-squares camera solver (`camera_solver.py`) that recovers intrinsics from a point map.

`import ma_vlm` registers the type with AutoConfig, AutoModel, AutoModelForDepthEstimation and
AutoImageProcessor. The names below load on first use.
"""

from ma_vlm.lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    ".configuration_metric_anything_pointmap": ["MetricAnythingPointMapConfig"],
    ".image_processing_metric_anything_pointmap": ["MetricAnythingPointMapImageProcessor"],
    ".modeling_metric_anything_pointmap": ["MetricAnythingForPointMapEstimation", "MetricAnythingPointMapOutput"],
    ".presets": ["POINTMAP_PRESETS", "pointmap_preset_config"],
})
