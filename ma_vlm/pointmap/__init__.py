"""Student-PointMap as a tool: camera intrinsics from one image, metric point maps, multi-view
fusion and their evaluation. The model itself (Transformers classes and the least-squares camera
solver) lives in `ma_vlm.models.metric_anything_pointmap`."""
