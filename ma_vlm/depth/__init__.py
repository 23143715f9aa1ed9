"""Metric depth as a tool: `predict_metric_depth` (one image, the function the CLI, evaluation and
demos call), `load_depth_model` (a checked `from_pretrained`), and the `ma-vlm depth` and
`ma-vlm convert` commands (`cli.py`). The model itself lives in `ma_vlm.models.metric_anything`."""

from ma_vlm.lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {".inference": ["load_depth_model", "predict_metric_depth"]})
