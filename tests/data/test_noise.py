"""Noisy-source simulators are deterministic and keep their sensor's promises."""

import numpy as np
import pytest

from ma_vlm.data.noise import NOISE_SOURCES, apply_source, simulate_source
from ma_vlm.errors import MaVlmInputError

H, W = 48, 64
INTRINSICS = [50.0, 50.0, (W - 1) / 2, (H - 1) / 2]


def _scene(seed=0):
    """A depth ramp from 1 m (top) to 12 m (bottom) and a random-texture image."""
    rng = np.random.default_rng(seed)
    depth = np.repeat(np.linspace(1.0, 12.0, H, dtype=np.float32)[:, None], W, axis=1)
    image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    return depth, image


@pytest.mark.parametrize("name", sorted(NOISE_SOURCES))
def test_every_source_is_deterministic_metric_and_marks_invalid_with_zero(name):
    depth, image = _scene()
    first = simulate_source(name, depth, INTRINSICS, image=image, seed=4)
    again = simulate_source(name, depth, INTRINSICS, image=image, seed=4)
    other = simulate_source(name, depth, INTRINSICS, image=image, seed=5)

    assert np.array_equal(first.depth_m, again.depth_m)
    assert not np.array_equal(first.depth_m, other.depth_m)
    assert first.source == name and first.depth_m.dtype == np.float32
    assert first.depth_m.shape == (H, W) and np.isfinite(first.depth_m).all()
    assert np.array_equal(first.valid_mask, first.depth_m > 0) and first.valid_mask.any()
    # Metric: the typical valid value is the true depth (noise, not a change of units).
    ratio = first.depth_m[first.valid_mask] / depth[first.valid_mask]
    assert abs(np.median(ratio) - 1) < 0.05


def test_sources_reject_nan_depth():
    depth, _ = _scene()
    depth[3, 3] = np.nan
    with pytest.raises(MaVlmInputError, match="NaN"):
        simulate_source("lidar", depth, INTRINSICS)


def test_lidar_keeps_only_scan_lines_within_range():
    depth, _ = _scene()
    out = simulate_source("lidar", depth, INTRINSICS, seed=0, num_beams=8, range_max_m=10.0, dropout=0.0)
    rows = np.nonzero(out.valid_mask.any(1))[0]
    assert 4 <= len(rows) <= 8 * 2  # 8 beams (a curved line may touch two rows at the edges)
    v, u = np.mgrid[0:H, 0:W]
    ray = np.sqrt(1 + ((u - INTRINSICS[2]) / 50.0) ** 2 + ((v - INTRINSICS[3]) / 50.0) ** 2)  # range / z
    assert (depth * ray)[out.valid_mask].max() <= 10.0  # the range limit
    assert (depth * ray)[out.valid_mask].min() >= 0.5


def test_tof_is_blind_on_dark_and_far_surfaces_and_noise_grows_with_depth():
    depth = np.full((H, W), 2.0, np.float32)
    depth[:, W // 2 :] = 4.0
    image = np.full((H, W, 3), 200, np.uint8)
    image[:8] = 5  # a black stripe
    out = simulate_source("tof", depth, INTRINSICS, image=image, seed=0, range_max_m=3.0,
                          dropout=0.0, edge_relative_jump=None)
    assert not out.valid_mask[:8].any()  # dark: no return
    assert not out.valid_mask[:, W // 2 :].any()  # beyond 3 m range
    assert out.valid_mask[8:, : W // 2].all()
    far = simulate_source("tof", np.full((200, 200), 4.0, np.float32), INTRINSICS, seed=0, range_max_m=9, dropout=0)
    near = simulate_source("tof", np.full((200, 200), 1.0, np.float32), INTRINSICS, seed=0, range_max_m=9, dropout=0)
    assert np.std(far.depth_m - 4.0) > 5 * np.std(near.depth_m - 1.0)
    np.testing.assert_allclose(np.std(far.depth_m - 4.0), 0.0012 + 0.0019 * 3.6**2, rtol=0.05)


def test_stereo_depth_noise_follows_z_squared_sigma_d_over_f_b():
    focal, baseline, sigma_d = 500.0, 0.1, 0.5
    intrinsics = [focal, focal, 199.5, 199.5]
    for z in (2.0, 6.0):
        depth = np.full((400, 400), z, np.float32)
        out = simulate_source("stereo", depth, intrinsics, seed=1, baseline_m=baseline,
                              disparity_noise_px=sigma_d)
        expected = z**2 * sigma_d / (focal * baseline)
        np.testing.assert_allclose(np.std(out.depth_m[out.valid_mask]), expected, rtol=0.1)
        # No match for the left image's first columns: u < disparity = f B / z.
        assert not out.valid_mask[:, : int(focal * baseline / z) - 2].any()


def test_sfm_points_are_sparse_textured_and_can_lose_the_scale():
    depth, image = _scene()
    image[:, : W // 2] = 128  # untextured left half
    out = simulate_source("sfm", depth, INTRINSICS, image=image, seed=0, keypoint_ratio=0.02,
                          outlier_ratio=0.0, unknown_scale=True)
    assert out.valid_mask.sum() == round(0.02 * H * W)
    assert not out.valid_mask[:, : W // 2 - 2].any()  # no points on the untextured half
    assert out.scale_factor != 1.0
    ratio = out.depth_m[out.valid_mask] / depth[out.valid_mask]
    np.testing.assert_allclose(np.median(ratio), out.scale_factor, rtol=0.02)


def test_lowres_sensor_is_blocky_at_image_size():
    depth, _ = _scene()
    out = simulate_source("lowres", depth, INTRINSICS, seed=0, factor=8, noise_m=0.0)
    assert out.metadata["lowres_depth_m"].shape == (H // 8, W // 8)
    blocks = out.depth_m.reshape(H // 8, 8, W // 8, 8)
    assert (blocks == blocks[:, :1, :, :1]).all()  # constant inside each 8x8 block
    block_means = depth.reshape(H // 8, 8, W // 8, 8).mean((1, 3))
    np.testing.assert_allclose(out.metadata["lowres_depth_m"], block_means, rtol=1e-6)


def test_apply_source_tags_the_record():
    depth, image = _scene()
    record = {"image": image, "depth": depth, "intrinsics": INTRINSICS, "source": "render"}
    noisy = apply_source(record, "stereo", seed=2)
    assert noisy["source"] == "stereo" and record["source"] == "render"
    assert noisy["image"] is image and not np.array_equal(noisy["depth"], depth)
