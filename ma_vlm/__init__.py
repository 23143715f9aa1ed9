"""ma-vlm: Metric Anything as a Transformers vision tower and depth prior.

`import ma_vlm` registers the `metric_anything` model type with Transformers' Auto classes and
stays light (no torch yet): `ma_vlm.registration` says how. The names below load on first use.
"""

from ma_vlm import moved_modules
from ma_vlm.errors import MaVlmInputError
from ma_vlm.lazy import lazy_exports
from ma_vlm.registration import register_auto_classes

register_auto_classes()
moved_modules.install()

__version__ = "0.1.0"

__getattr__, _lazy_names = lazy_exports(__name__, {
    "ma_vlm.models.metric_anything": ["MetricAnythingConfig", "MetricAnythingForDepthEstimation",
                                      "MetricAnythingImageProcessor", "MetricAnythingModel", "preset_config"],
    "ma_vlm.depth": ["predict_metric_depth"],
    "ma_vlm.geometry": ["Intrinsics", "backproject"],
})
__all__ = ["MaVlmInputError", *_lazy_names]
