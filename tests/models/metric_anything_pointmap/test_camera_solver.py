"""The focal/shift solver recovers known cameras from synthetic point maps, and says when it cannot."""

import numpy as np
import pytest

from ma_vlm.errors import MaVlmInputError
from ma_vlm.models.metric_anything_pointmap.camera_solver import (
    conditioning_study,
    recover_intrinsics,
    synthetic_point_map,
)


def camera(width, height, fov_deg, offset=(0.0, 0.0)):
    focal = width / 2 / np.tan(np.radians(fov_deg) / 2)
    return focal, focal, (width - 1) / 2 + offset[0], (height - 1) / 2 + offset[1]


@pytest.mark.parametrize("width,height,fov_deg", [(160, 120, 60), (90, 160, 50), (200, 100, 120), (64, 64, 20)])
def test_centred_cameras_are_recovered_exactly(width, height, fov_deg):
    truth = camera(width, height, fov_deg)
    points = synthetic_point_map(width, height, truth)
    points[..., 2] -= 1.3  # unknown shift of an affine-invariant prediction
    solution = recover_intrinsics(points)
    assert solution.focal_length_px == pytest.approx(truth[0], rel=1e-6)
    assert solution.shift == pytest.approx(1.3, rel=1e-6)
    assert solution.rms_residual_px < 1e-6


@pytest.mark.parametrize("offset", [(12.0, -7.0), (-20.0, 15.0)])
def test_off_centre_principal_point_is_recovered_when_left_free(offset):
    truth = camera(120, 160, 70, offset)  # portrait, principal point off the centre
    points = synthetic_point_map(120, 160, truth)
    points[..., 2] += 0.5
    solution = recover_intrinsics(points, principal_point=None)
    assert solution.focal_length_px == pytest.approx(truth[0], rel=1e-6)
    assert solution.principal_point_px == pytest.approx(truth[2:], abs=1e-4)
    assert solution.shift == pytest.approx(-0.5, abs=1e-6)
    centred = recover_intrinsics(points)  # MoGe's assumption: the residual shows the offset
    assert centred.rms_residual_px > 1.0


def test_known_focal_solves_the_shift_only():
    truth = camera(160, 120, 80)
    points = synthetic_point_map(160, 120, truth)
    points[..., 2] -= 0.7
    solution = recover_intrinsics(points, focal_length_px=truth[0])
    assert solution.focal_length_px == truth[0] and solution.shift == pytest.approx(0.7, rel=1e-6)


def test_mask_excludes_bad_pixels():
    truth = camera(160, 120, 60)
    points = synthetic_point_map(160, 120, truth)
    mask = np.ones((120, 160), bool)
    points[:30], mask[:30] = 1e3 * np.random.default_rng(0).random((30, 160, 3)), False  # sky / garbage
    points[5, 5] = np.nan
    assert recover_intrinsics(points, mask).focal_length_px == pytest.approx(truth[0], rel=1e-6)


def test_conditioning_flat_scenes_are_singular_and_narrow_fov_is_noisier():
    rows = {(r["fov_deg"], r["depth_ratio"]): r for r in
            conditioning_study(fov_deg_values=(10, 60), depth_ratios=(1.0, 2.0), seeds=3, width=80, height=60)}
    assert rows[60, 1.0]["focal_shift_correlation"] > 0.9999  # f and s trade off completely
    assert rows[60, 2.0]["median_focal_error"] < 0.01
    assert rows[10, 2.0]["median_focal_error"] > 5 * rows[60, 2.0]["median_focal_error"]


def test_bad_inputs_are_named():
    with pytest.raises(MaVlmInputError, match=r"\(H, W, 3\)"):
        recover_intrinsics(np.zeros((10, 10)))
    with pytest.raises(MaVlmInputError, match="at least 3"):
        recover_intrinsics(np.ones((10, 10, 3)), mask=np.zeros((10, 10), bool))
