"""Imported by LeRobot's plugin discovery: registers the `ma_libero` env type."""

import ma_vlm.vla.lerobot_libero_env  # noqa: F401
