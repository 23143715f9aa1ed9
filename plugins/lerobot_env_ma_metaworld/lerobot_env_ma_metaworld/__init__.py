"""Imported by LeRobot's plugin discovery: registers the `ma_metaworld` env type."""

import ma_vlm.vla.lerobot_env  # noqa: F401
