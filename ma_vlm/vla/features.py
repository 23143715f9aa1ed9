"""Every feature key the VLA reads or writes, in one place.

LeRobot's own names (`observation.state`, `action`, `observation.images.<camera>`) are used so
that LeRobot datasets, `lerobot-train` and `lerobot-eval` need no rename map. Metric depth is
a per-camera LeRobot depth-map image, `observation.depth.<camera>`: stored in metres, returned by
LeRobot as (1, H, W) in its `depth_output_unit` (millimetres unless the dataset is opened with
"m"); `MAVLAConfig.depth_unit` says which, and the policy converts to metres (0 = no depth).
"""

from __future__ import annotations

from lerobot.configs import DEFAULT_DEPTH_UNIT
from lerobot.utils.constants import ACTION, OBS_IMAGES, OBS_LANGUAGE_ATTENTION_MASK, OBS_LANGUAGE_TOKENS, OBS_STATE

STATE_KEY = OBS_STATE
ACTION_KEY = ACTION
ACTION_PAD_KEY = f"{ACTION}_is_pad"
TASK_KEY = "task"
LANGUAGE_TOKENS_KEY = OBS_LANGUAGE_TOKENS
LANGUAGE_MASK_KEY = OBS_LANGUAGE_ATTENTION_MASK
DEPTH_PREFIX = "observation.depth."
DEPTH_UNIT = DEFAULT_DEPTH_UNIT  # what LeRobot datasets return unless told otherwise ("mm")
METRES_PER_UNIT = {"m": 1.0, "mm": 1e-3}
INTRINSICS_INFO_KEY = "camera_intrinsics"  # info.json features[<image key>]["info"]: [fx, fy, cx, cy], pixels of the frames


def image_key(camera: str) -> str:
    """`observation.images.<camera>`: (C, H, W) float in [0, 1] once loaded by LeRobot."""
    return f"{OBS_IMAGES}.{camera}"


def depth_key(camera: str) -> str:
    """`observation.depth.<camera>`: (H, W, 1) metric z-depth in metres."""
    return f"{DEPTH_PREFIX}{camera}"


def camera_of(key: str) -> str:
    """The camera name of an image or depth key."""
    return key.rsplit(".", 1)[-1]


def intrinsics_from_features(features: dict) -> dict[str, list[float]]:
    """{camera: [fx, fy, cx, cy]} read from a LeRobot dataset's feature metadata."""
    found = {}
    for key, feature in features.items():
        info = feature.get("info") or {}
        if key.startswith(f"{OBS_IMAGES}.") and INTRINSICS_INFO_KEY in info:
            found[camera_of(key)] = [float(v) for v in info[INTRINSICS_INFO_KEY]]
    return found
