"""The torch camera fit (the point-map model's, traceable) finds what the SciPy `exact` solver finds."""

import numpy as np
import pytest
import torch

from ma_vlm.models.metric_anything_pointmap.camera_solver import recover_intrinsics, synthetic_point_map
from ma_vlm.models.metric_anything_pointmap.camera_solver_torch import recover_focal_shift


@pytest.mark.parametrize("width, height, fov_deg, noise, shift", [
    (160, 120, 60, 0.0, 1.0), (160, 120, 30, 0.01, -0.5), (96, 72, 90, 0.01, 0.3), (50, 40, 120, 0.005, 0.0),
])
def test_the_torch_fit_equals_the_scipy_exact_fit(width, height, fov_deg, noise, shift):
    focal = width / 2 / np.tan(np.radians(fov_deg) / 2)
    points = synthetic_point_map(width, height, (focal, focal, (width - 1) / 2, (height - 1) / 2), 2.0, 4.0, noise)
    points[..., 2] -= shift
    mask = np.ones((height, width), bool)
    mask[:5] = False
    reference = recover_intrinsics(points, mask)
    got_focal, got_shift = recover_focal_shift(torch.tensor(points)[None].float(), torch.tensor(mask)[None])
    assert got_focal.item() == pytest.approx(reference.focal_length_px, rel=1e-6)
    assert got_shift.item() == pytest.approx(reference.shift, rel=1e-5, abs=1e-6)
    if noise == 0:
        assert got_focal.item() == pytest.approx(focal, rel=1e-6)


def test_a_known_focal_length_fits_the_shift_only_and_an_empty_mask_falls_back():
    focal = 138.0
    points = synthetic_point_map(160, 120, (focal, focal, 79.5, 59.5), 2.0, 4.0)
    points[..., 2] -= 0.7
    batch = torch.tensor(np.stack([points, points]), dtype=torch.float32)
    mask = torch.ones(2, 120, 160, dtype=torch.bool)
    mask[1] = False  # nothing to fit: half the diagonal and no shift, as the published code
    got_focal, got_shift = recover_focal_shift(batch, mask)
    assert got_shift[0].item() == pytest.approx(0.7, rel=1e-6)
    assert got_focal[1].item() == pytest.approx(100.0) and got_shift[1].item() == 0.0
    known_focal, known_shift = recover_focal_shift(batch[:1], mask[:1], torch.tensor([focal]))
    assert known_focal.item() == pytest.approx(focal) and known_shift.item() == pytest.approx(0.7, rel=1e-6)
