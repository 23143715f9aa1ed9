"""The Transformers model types of ma-vlm, one folder each in the Transformers layout
(`configuration_<type>.py`, `modeling_<type>.py`, `image_processing_<type>.py`, `presets.py`,
`convert.py`): `metric_anything` (the tower and its depth model) and `metric_anything_pointmap`
(Student-PointMap). The files beside them are what both share: pixel reading (`image_utils.py`),
checkpoint conversion (`conversion.py`) and CPU heap tuning (`cpu_heap.py`).

Model folders hold model code only; the commands that use them live with the tools
(`ma_vlm/depth/`, `ma_vlm/pointmap/`). `ma_vlm.registration` puts them into the Auto classes.
"""
