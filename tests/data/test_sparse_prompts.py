"""Sparse Metric Prompt samplers: seeded, honest about density, metric values, 0 = missing."""

import numpy as np
import pytest

from ma_vlm.data.sparse_prompts import GridPrompt, MixturePrompt, NoPrompt, default_prompt_mixture, parse_prompt_spec
from ma_vlm.errors import MaVlmInputError

H, W = 48, 64


def _depth():
    depth = np.random.default_rng(0).uniform(0.5, 10.0, (H, W)).astype(np.float32)
    depth[:4] = 0.0  # an invalid band (e.g. sky)
    return depth


SPECS = ["uniform:0.01", "uniform:0.5", "lidar:8", "grid:8", "grid:16", "radar:20", "extreme:5",
         "blobs:0.3", "holes:0.5", "mix:uniform:0.1@1,lidar:4@1"]


@pytest.mark.parametrize("spec", SPECS)
def test_prompts_are_seeded_subsets_of_the_valid_depth(spec):
    depth, sampler = _depth(), parse_prompt_spec(spec)
    prompt = sampler(depth, 7)

    assert prompt.shape == (H, W) and prompt.dtype == np.float32
    assert np.isfinite(prompt).all() and (prompt >= 0).all()  # 0 = missing, never NaN
    kept = prompt > 0
    assert kept.any() and not kept[:4].any()  # only where the depth is valid
    assert np.array_equal(prompt[kept], _depth()[kept])  # metric values copied unchanged
    assert np.array_equal(prompt, sampler(depth, 7))  # same seed, same prompt
    assert np.array_equal(prompt, sampler(depth, np.random.default_rng(7)))


def test_uniform_ratio_is_exact_over_valid_pixels():
    depth = _depth()
    prompt = parse_prompt_spec("uniform:0.01")(depth, 0)
    assert (prompt > 0).sum() == round(0.01 * (depth > 0).sum())  # 0.01 x 2816 -> 28 points


def test_grid_samples_one_pixel_per_block_and_gives_the_low_res_map():
    depth = np.random.default_rng(1).uniform(1.0, 5.0, (H, W)).astype(np.float32)
    for factor in (8, 16):
        sampler = parse_prompt_spec(f"grid:{factor}")
        prompt = sampler(depth, 0)
        blocks = (prompt > 0).reshape(H // factor, factor, W // factor, factor).sum((1, 3))
        assert (blocks == 1).all()  # one sample per factor x factor block
        low = sampler.low_resolution(depth)
        assert low.shape == (H // factor, W // factor)
        assert np.array_equal(np.sort(low.ravel()), np.sort(prompt[prompt > 0]))
    assert GridPrompt(8)(depth, 0)[4, 4] == depth[4, 4]  # block centre


def test_lidar_lines_radar_band_and_extreme_counts():
    depth = np.random.default_rng(2).uniform(1.0, 5.0, (H, W)).astype(np.float32)
    lidar = parse_prompt_spec("lidar:8")(depth, 0)
    assert len(np.nonzero((lidar > 0).any(1))[0]) == 8
    radar = parse_prompt_spec("radar:20")(depth, 0)
    rows = np.nonzero(radar > 0)[0]
    assert (radar > 0).sum() == 20 and rows.min() >= H // 2 - 8 and rows.max() < H // 2 + 8
    assert (parse_prompt_spec("extreme:3")(depth, 0) > 0).sum() == 3


def test_holes_and_blobs_cover_the_requested_fraction():
    depth = np.random.default_rng(3).uniform(1.0, 5.0, (96, 96)).astype(np.float32)
    kept = (parse_prompt_spec("holes:0.5")(depth, 0) > 0).mean()
    assert abs(kept - 0.5) < 0.01
    assert abs((parse_prompt_spec("blobs:0.3")(depth, 0) > 0).mean() - 0.3) < 0.01


def test_none_spec_means_no_prompt_and_mixture_uses_every_member():
    depth = _depth()
    assert isinstance(parse_prompt_spec("none"), NoPrompt) and parse_prompt_spec("none")(depth, 0) is None
    mixture = default_prompt_mixture()
    assert isinstance(mixture, MixturePrompt)
    outputs = [mixture(depth, seed) for seed in range(60)]
    assert any(o is None for o in outputs) and any(o is not None for o in outputs)
    densities = {round(float((o > 0).mean()), 3) for o in outputs if o is not None}
    assert len(densities) >= 5  # several prompt families in play


@pytest.mark.parametrize("spec", ["uniform", "uniform:2", "lidar:x", "grid:1", "sonar:3", "mix:uniform:0.1@w"])
def test_bad_specs_raise_a_helpful_error(spec):
    with pytest.raises(MaVlmInputError):
        parse_prompt_spec(spec)


def test_nan_depth_is_rejected():
    depth = _depth()
    depth[10, 10] = np.inf
    with pytest.raises(MaVlmInputError, match="NaN or inf"):
        parse_prompt_spec("uniform:0.1")(depth, 0)
