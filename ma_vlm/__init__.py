"""ma-vlm: Metric Anything as a Transformers vision tower and depth prior.

`import ma_vlm` registers the `metric_anything` model type with Transformers' Auto classes.
"""

from ma_vlm.encoders import (
    MetricAnythingConfig,
    MetricAnythingForDepthEstimation,
    MetricAnythingImageProcessor,
    MetricAnythingModel,
    predict_metric_depth,
    preset_config,
)
from ma_vlm.errors import MaVlmInputError
from ma_vlm.geometry import Intrinsics, backproject

__version__ = "0.1.0"

__all__ = [
    "Intrinsics",
    "MaVlmInputError",
    "MetricAnythingConfig",
    "MetricAnythingForDepthEstimation",
    "MetricAnythingImageProcessor",
    "MetricAnythingModel",
    "backproject",
    "predict_metric_depth",
    "preset_config",
]
