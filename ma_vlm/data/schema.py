"""The RGB-D record every part of ma-vlm speaks: scene engine, noisy sources, prompt samplers,
depth evaluation and the SynthSpatial QA generator.

Decoded (Python) form of one record -- the contract; the on-disk Hugging Face ``Features``
and the encode/decode functions live beside it in this module.

Camera frame is OpenCV's: x right, y down, z forward, metres. Depth is metric z-depth
(distance along the optical axis), not ray length.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np


class Instance(TypedDict):
    instance_id: int  # > 0, the value of this object's pixels in ``instance_mask``
    category: str  # "chair", "table", "box", ... (a noun a question can use)
    color: str  # colour name, "red" ...
    center_m: list[float]  # 3D box centre in the camera frame, metres
    size_m: list[float]  # box extent (width x, height y, depth z) in the object frame, metres
    yaw_rad: float  # rotation of the object frame about the world up axis, radians
    pixel_count: int  # visible pixels in ``instance_mask``


class RGBDRecord(TypedDict, total=False):
    # image, depth, intrinsics and source are always present; the rest default when encoded.
    image: np.ndarray  # (H, W, 3) uint8 RGB
    depth: np.ndarray  # (H, W) float32 metres, 0 = invalid
    intrinsics: list[float]  # [fx, fy, cx, cy] in pixels of ``image`` (convention: ``ma_vlm.geometry``)
    source: str  # "render", "lidar", "tof", "stereo", "sfm", "lowres", or an external name
    instances: list[Instance]
    instance_mask: np.ndarray  # (H, W) int32, 0 = background
    camera_to_world: np.ndarray  # (4, 4) float64, OpenCV camera axes
    scene_id: str
    camera_model_id: int  # index in the camera zoo (``cameras.camera_zoo``), -1 for external data


# ---------------------------------------------------------------------------------------------
# On-disk form (Hugging Face ``datasets``)
#
# ``datasets.Array2D`` only allows a dynamic first dimension, and the camera zoo varies both image
# sides, so the float maps are stored as raw little-endian bytes plus explicit ``height``/``width``:
#   depth          float32 metres, row-major (height, width), 0 = invalid  -> bit-exact round trip
#   instance_mask  int32, row-major (height, width)                          -> bit-exact round trip
# Parquet compresses these columns (zero runs and smooth depth compress well). The RGB image is a
# PNG inside a ``datasets.Image`` column, so the dataset viewer and ``cast_column`` work on it.
# ---------------------------------------------------------------------------------------------

DEPTH_DTYPE = np.dtype("<f4")
MASK_DTYPE = np.dtype("<i4")


def rgbd_features():
    """The ``datasets.Features`` of an encoded RGB-D record (import of ``datasets`` is lazy)."""
    from datasets import Features, Image, List, Value

    instance = {
        "instance_id": Value("int32"),
        "category": Value("string"),
        "color": Value("string"),
        "center_m": List(Value("float32"), length=3),
        "size_m": List(Value("float32"), length=3),
        "yaw_rad": Value("float32"),
        "pixel_count": Value("int32"),
    }
    return Features(
        {
            "image": Image(),
            "depth": Value("binary"),
            "height": Value("int32"),
            "width": Value("int32"),
            "intrinsics": List(Value("float64"), length=4),
            "source": Value("string"),
            "instances": List(instance),
            "instance_mask": Value("binary"),
            "camera_to_world": List(Value("float64"), length=16),
            "scene_id": Value("string"),
            "camera_model_id": Value("int32"),
        }
    )


def _png_bytes(image: np.ndarray) -> bytes:
    import io

    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.fromarray(image, mode="RGB").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def validate_record(record: dict) -> None:
    """Raise ``MaVlmInputError`` if a decoded record breaks the contract (shapes, dtypes, units)."""
    from ma_vlm.errors import MaVlmInputError

    image, depth = np.asarray(record["image"]), np.asarray(record["depth"])
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise MaVlmInputError(
            f"image must be (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}; "
            "convert with np.asarray(PIL.Image.open(path).convert('RGB'))."
        )
    if depth.shape != image.shape[:2]:
        raise MaVlmInputError(
            f"depth shape {depth.shape} does not match image {image.shape[:2]}; "
            "resize depth to the image (nearest) and scale the intrinsics."
        )
    if not np.all(np.isfinite(depth)) or np.any(depth < 0):
        raise MaVlmInputError(
            "depth must be finite metres >= 0 with 0 = invalid; replace NaN/inf with 0 first."
        )
    if len(record["intrinsics"]) != 4:
        raise MaVlmInputError("intrinsics must be [fx, fy, cx, cy] in pixels of the image.")


def encode_record(record: RGBDRecord) -> dict:
    """Decoded record -> a row matching ``rgbd_features()`` (lossless for depth and masks)."""
    validate_record(record)
    depth = np.ascontiguousarray(record["depth"], dtype=DEPTH_DTYPE)
    height, width = depth.shape
    mask = record.get("instance_mask")
    mask = np.zeros((height, width), MASK_DTYPE) if mask is None else mask
    camera_to_world = record.get("camera_to_world")
    camera_to_world = np.eye(4) if camera_to_world is None else np.asarray(camera_to_world)
    instances = [
        {
            "instance_id": int(inst["instance_id"]),
            "category": str(inst["category"]),
            "color": str(inst["color"]),
            "center_m": [float(v) for v in inst["center_m"]],
            "size_m": [float(v) for v in inst["size_m"]],
            "yaw_rad": float(inst["yaw_rad"]),
            "pixel_count": int(inst["pixel_count"]),
        }
        for inst in record.get("instances", [])
    ]
    return {
        "image": {"bytes": _png_bytes(np.ascontiguousarray(record["image"])), "path": None},
        "depth": depth.tobytes(),
        "height": int(height),
        "width": int(width),
        "intrinsics": [float(v) for v in record["intrinsics"]],
        "source": str(record["source"]),
        "instances": instances,
        "instance_mask": np.ascontiguousarray(mask, dtype=MASK_DTYPE).tobytes(),
        "camera_to_world": [float(v) for v in camera_to_world.reshape(16)],
        "scene_id": str(record.get("scene_id", "")),
        "camera_model_id": int(record.get("camera_model_id", -1)),
    }


def decode_record(row: dict) -> RGBDRecord:
    """A row read from a dataset with ``rgbd_features()`` -> the decoded ``RGBDRecord``.

    Accepts the image as a PIL image (``datasets`` decoding on), as ``{"bytes": ...}``
    (decoding off) or as an array.
    """
    height, width = int(row["height"]), int(row["width"])
    image = row["image"]
    if isinstance(image, dict):
        import io

        from PIL import Image as PILImage

        image = PILImage.open(io.BytesIO(image["bytes"]))
    image = np.asarray(image.convert("RGB") if hasattr(image, "convert") else image, np.uint8)
    depth = np.frombuffer(row["depth"], DEPTH_DTYPE).reshape(height, width).astype(np.float32)
    mask = np.frombuffer(row["instance_mask"], MASK_DTYPE).reshape(height, width).astype(np.int32)
    return RGBDRecord(
        image=image,
        depth=depth,
        intrinsics=[float(v) for v in row["intrinsics"]],
        source=row["source"],
        instances=[Instance(**inst) for inst in row["instances"]],
        instance_mask=mask,
        camera_to_world=np.asarray(row["camera_to_world"], np.float64).reshape(4, 4),
        scene_id=row["scene_id"],
        camera_model_id=int(row.get("camera_model_id", -1)),
    )
