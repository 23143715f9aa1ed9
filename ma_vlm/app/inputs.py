"""What a request hands the page, checked: the photo, its camera, a depth map.

The camera comes, in order, from a `cam_in` sidecar (.json uploaded beside the photo), a focal
length typed in the page, or the point-map model's estimate; `Camera.source` says which, and the
page prints it. Nothing assumes a focal length.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ma_vlm.errors import MaVlmInputError
from ma_vlm.geometry import Intrinsics
from ma_vlm.inputs import open_image
from ma_vlm.pointmap.image_outputs import MIN_IMAGE_SIDE_PX


@dataclass(frozen=True)
class Photo:
    """An uploaded photo: its path (in Gradio's upload folder), the image as opened (PIL, what
    `ma-vlm depth` hands the model) and its (H, W, 3) uint8 RGB."""

    path: Path
    image: object
    rgb: np.ndarray

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.rgb.shape[1], self.rgb.shape[0]


def read_photo(path: str | None, max_megapixels: float) -> Photo:
    """The photo of a request, or one line: none given, not an image, too small, too large."""
    if not path:
        raise MaVlmInputError("no photo: upload an image (PNG or JPEG) or pick an example")
    try:
        image = open_image(path, max_megapixels, limit_flag="`ma-vlm app --max-megapixels`")
    except MaVlmInputError as error:  # name the file as the user knows it, not by its upload folder
        raise MaVlmInputError(str(error).replace(str(path), Path(path).name)) from None
    if min(image.size) < MIN_IMAGE_SIDE_PX:
        raise MaVlmInputError(f"{Path(path).name} is {image.width} x {image.height} px; give a photo of at least "
                              f"{MIN_IMAGE_SIDE_PX} px per side")
    return Photo(Path(path), image, np.asarray(image.convert("RGB")))


@dataclass(frozen=True)
class Camera:
    """intrinsics: [fx, fy, cx, cy] in pixels of the photo; source: where they came from, in words."""

    intrinsics: Intrinsics
    source: str


def read_sidecar(path: str | None, photo: Photo) -> Intrinsics | None:
    """The camera of a `{"cam_in": [fx, fy, cx, cy]}` file, or None when none was given."""
    if not path:
        return None
    if Path(path).suffix.lower() != ".json":
        raise MaVlmInputError(f"camera file {Path(path).name}: give a .json with {{\"cam_in\": [fx, fy, cx, cy]}}")
    return Intrinsics.from_json(path)


def check_focal_length(focal_length_px) -> float | None:
    """A typed focal length in pixels (a number or the page's text; None or empty: not given), or one line."""
    if focal_length_px is None or (isinstance(focal_length_px, str) and not focal_length_px.strip()):
        return None
    try:
        value = float(focal_length_px)
    except ValueError:
        raise MaVlmInputError(f"focal length {focal_length_px!r}: type a number of pixels (e.g. 721.5), or leave it "
                              "empty") from None
    if not np.isfinite(value) or value <= 0:
        raise MaVlmInputError(f"focal length {value:g} px: give a positive number of pixels, or leave it "
                              "empty to use the camera file or the point-map model's estimate")
    return value


def resolve_camera(photo: Photo, sidecar: str | None, focal_length_px, pointmap) -> Camera:
    """The photo's camera: sidecar, else typed focal length, else the estimate of `pointmap`
    (the page's point-map `ModelChoice`), else one line saying how to give one."""
    focal = check_focal_length(focal_length_px)
    from_file = read_sidecar(sidecar, photo)
    if from_file is not None:
        return Camera(from_file, f"camera file {Path(sidecar).name} (cam_in)")
    width, height = photo.size
    if focal is not None:
        return Camera(Intrinsics.from_focal_length(focal, width, height),
                      f"typed focal length {focal:g} px, principal point at the centre")
    if pointmap.loaded is None:
        raise MaVlmInputError("no camera for this photo: upload its .json ({\"cam_in\": [fx, fy, cx, cy]}), type its "
                              "focal length in pixels, or start the page with a point-map model (--pointmap DIR) to "
                              "estimate it")
    fx, fy, cx, cy = pointmap.loaded(photo.rgb).intrinsics
    return Camera(Intrinsics(fx, fy, cx, cy), f"the point-map model's estimate (fx {fx:.1f} px)")


def read_depth_map(path: str | None, photo: Photo, what: str) -> np.ndarray | None:
    """(H, W) float32 metres (0 = missing) from .npy metres or 16-bit .png millimetres at the
    photo's size, or None when none was given (`what` names the input in messages)."""
    if not path:
        return None
    from ma_vlm.inputs import load_prompt_depth

    width, height = photo.size
    try:
        return load_prompt_depth(Path(path), height, width)
    except MaVlmInputError as error:
        raise MaVlmInputError(f"{what}: {error}".replace(str(Path(path)), Path(path).name)) from None
