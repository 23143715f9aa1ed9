"""`pipeline("depth-estimation", model=DIR)` answers in metres: the focal length comes from the
image processor, the photo's EXIF, or an assumed field of view that one warning names; and the
image processors honour call-time arguments or refuse them in one line."""

import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import AutoImageProcessor, pipeline

from ma_vlm.errors import MaVlmInputError
from ma_vlm.models.image_utils import exif_focal_length_px
from ma_vlm.models.metric_anything.image_processing_metric_anything import FALLBACK_FOV_DEG
from ma_vlm.models.metric_anything_pointmap import MetricAnythingPointMapImageProcessor

EXIF_IFD, FOCAL_LENGTH_35MM = 0x8769, 0xA405


def photo_with_exif(rgb_image, path, focal_35mm):
    exif = Image.Exif()
    exif.get_ifd(EXIF_IFD)[FOCAL_LENGTH_35MM] = focal_35mm
    Image.fromarray(rgb_image).save(path, exif=exif)
    return str(path)


def test_plain_pipeline_call_gives_metres_and_names_its_assumption(tiny_model_dir, rgb_image):
    estimator = pipeline("depth-estimation", model=str(tiny_model_dir))
    with pytest.warns(UserWarning, match=r"60 degree .*focal_length_px") as caught:
        result = estimator(Image.fromarray(rgb_image))
    assert len([w for w in caught if "field of view" in str(w.message)]) == 1
    processor = AutoImageProcessor.from_pretrained(tiny_model_dir, assume_fov_deg=FALLBACK_FOV_DEG)
    explicit = pipeline("depth-estimation", model=str(tiny_model_dir), image_processor=processor)
    expected = explicit(Image.fromarray(rgb_image))["predicted_depth"]
    assert tuple(result["predicted_depth"].shape) == rgb_image.shape[:2]
    torch.testing.assert_close(result["predicted_depth"], expected, rtol=1e-4, atol=1e-4)


def test_pipeline_with_a_focal_length_on_the_processor_scales_the_depth(tiny_model_dir, rgb_image):
    depth = {}
    for focal_px in (100.0, 200.0):
        processor = AutoImageProcessor.from_pretrained(tiny_model_dir, focal_length_px=focal_px)
        estimator = pipeline("depth-estimation", model=str(tiny_model_dir), image_processor=processor)
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # a known camera assumes nothing
            depth[focal_px] = estimator(Image.fromarray(rgb_image))["predicted_depth"]
    unclamped = (depth[100.0] > 2e-3) & (depth[200.0] < 999)
    assert unclamped.float().mean() > 0.5
    torch.testing.assert_close(depth[200.0][unclamped], 2 * depth[100.0][unclamped], rtol=1e-3, atol=1e-5)


def test_pipeline_reads_the_focal_length_from_exif(tiny_model_dir, rgb_image, tmp_path):
    path = photo_with_exif(rgb_image, tmp_path / "photo.jpg", focal_35mm=26)
    height, width = rgb_image.shape[:2]
    focal_px = 26 * np.hypot(width, height) / np.hypot(36, 24)  # 35 mm equivalent over the diagonal
    assert exif_focal_length_px(Image.open(path)) == pytest.approx(focal_px)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        from_exif = pipeline("depth-estimation", model=str(tiny_model_dir))(path)["predicted_depth"]
    processor = AutoImageProcessor.from_pretrained(tiny_model_dir, focal_length_px=focal_px)
    given = pipeline("depth-estimation", model=str(tiny_model_dir), image_processor=processor)(path)
    torch.testing.assert_close(from_exif, given["predicted_depth"])


def test_call_time_mean_std_and_size_are_honoured(tiny_model_dir, rgb_image):
    processor = AutoImageProcessor.from_pretrained(tiny_model_dir)
    out = processor(rgb_image, image_mean=[0.0, 0.0, 0.0], image_std=[1.0, 1.0, 1.0], size=256, focal_length_px=100.0)
    assert out["pixel_values"].shape == (1, 3, 256, 256)
    assert 0.0 <= out["pixel_values"].min() and out["pixel_values"].max() <= 1.0  # no normalisation: [0, 1]
    torch.testing.assert_close(out["focal_length_px"], torch.tensor([100.0 * 256 / rgb_image.shape[1]]))


def test_unknown_call_arguments_are_refused_in_one_line(tiny_model_dir, rgb_image):
    with pytest.raises(MaVlmInputError, match="does not take do_center_crop; it takes intrinsics"):
        AutoImageProcessor.from_pretrained(tiny_model_dir)(rgb_image, do_center_crop=True)
    pointmap = MetricAnythingPointMapImageProcessor()
    assert pointmap(rgb_image, image_mean=[0.0] * 3, image_std=[1.0] * 3)["pixel_values"].max() <= 1.0
    with pytest.raises(MaVlmInputError, match="resolution_level"):
        pointmap(rgb_image, size=256)
    with pytest.raises(MaVlmInputError, match="does not take crop_size"):
        pointmap(rgb_image, crop_size=64)
