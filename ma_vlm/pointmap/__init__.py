"""Student-PointMap as a tool: camera intrinsics from one image, metric point maps, multi-view
fusion and their evaluation. The model itself lives in `ma_vlm.encoders` (Transformers classes);
the least-squares camera solver in `ma_vlm.intrinsics_recovery`."""
