"""ma-vlm: Metric Anything as a Transformers vision tower and depth prior.

`import ma_vlm` registers the `metric_anything` model type with Transformers' Auto classes and
stays light (no torch yet): `ma_vlm.registration` says how. The names below load on first use.
"""

from importlib import import_module

from ma_vlm.errors import MaVlmInputError
from ma_vlm.registration import register_auto_classes

register_auto_classes()

__version__ = "0.1.0"

_LAZY = {
    "MetricAnythingConfig": "ma_vlm.encoders",
    "MetricAnythingForDepthEstimation": "ma_vlm.encoders",
    "MetricAnythingImageProcessor": "ma_vlm.encoders",
    "MetricAnythingModel": "ma_vlm.encoders",
    "predict_metric_depth": "ma_vlm.encoders",
    "preset_config": "ma_vlm.encoders",
    "Intrinsics": "ma_vlm.geometry",
    "backproject": "ma_vlm.geometry",
}

__all__ = ["MaVlmInputError", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ma_vlm' has no attribute {name!r}")
