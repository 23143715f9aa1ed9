"""Sparse Metric Prompt samplers: mask a depth map into the sparse prompt the teacher reads.

Convention (Prompt Depth Anything's): ``prompt_depth`` is (H, W) float32 metres at the image
resolution with 0 = missing, never NaN. A sampler is called as ``sampler(depth_m, seed)``
(``seed`` an int or a ``numpy.random.Generator``) and only ever keeps pixels where the input
depth is valid (> 0), copying their values unchanged: the prompt carries the source's metric
scale, never invented values. ``NoPrompt`` returns ``None`` (the prompt-free path).

``parse_prompt_spec("uniform:0.01")`` builds a sampler from the strings the CLI and recipes use:
``none``, ``uniform:RATIO``, ``lidar:LINES``, ``grid:FACTOR``, ``radar:N``, ``extreme:N``,
``blobs:KEEP_RATIO``, ``holes:HOLE_RATIO``, and mixtures ``mix:SPEC@WEIGHT,SPEC@WEIGHT``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ma_vlm.data.noise import check_depth
from ma_vlm.errors import MaVlmInputError


def _generator(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _keep(depth: np.ndarray, keep: np.ndarray) -> np.ndarray:
    return np.where(keep & (depth > 0), depth, 0.0).astype(np.float32)


def _random_valid_points(depth: np.ndarray, count: int, seed) -> np.ndarray:
    """Keep exactly `count` valid pixels of `depth`, drawn uniformly without replacement."""
    valid = np.flatnonzero(depth > 0)
    chosen = _generator(seed).choice(valid, size=count, replace=False)
    keep = np.zeros(depth.size, bool)
    keep[chosen] = True
    return _keep(depth, keep.reshape(depth.shape))


@dataclass(frozen=True)
class NoPrompt:
    """No prompt: the model runs prompt-free."""

    def __call__(self, depth_m, seed=0):
        check_depth(depth_m)
        return None


@dataclass(frozen=True)
class UniformPrompt:
    """Exactly ``round(ratio * number of valid pixels)`` valid pixels, uniformly at random."""

    ratio: float

    def __call__(self, depth_m, seed=0) -> np.ndarray:
        depth = check_depth(depth_m)
        return _random_valid_points(depth, int(round(self.ratio * np.count_nonzero(depth > 0))), seed)


@dataclass(frozen=True)
class ExtremePrompt:
    """Extreme sparsity: exactly ``min(num_points, valid pixels)`` points, uniformly at random."""

    num_points: int

    def __call__(self, depth_m, seed=0) -> np.ndarray:
        depth = check_depth(depth_m)
        return _random_valid_points(depth, min(self.num_points, np.count_nonzero(depth > 0)), seed)


@dataclass(frozen=True)
class LidarPrompt:
    """LiDAR-like scan lines: ``num_lines`` image rows, evenly spaced with a random phase (at
    most ``num_lines`` distinct rows hold prompt values), each return kept with probability
    ``1 - dropout``, every ``column_stride``-th column."""

    num_lines: int
    dropout: float = 0.1
    column_stride: int = 1

    def __call__(self, depth_m, seed=0) -> np.ndarray:
        depth = check_depth(depth_m)
        rng = _generator(seed)
        height, width = depth.shape
        spacing = height / self.num_lines
        rows = np.unique(np.floor(rng.uniform(0, spacing) + spacing * np.arange(self.num_lines)).astype(int))
        keep = np.zeros_like(depth, dtype=bool)
        columns = np.arange(int(rng.integers(self.column_stride)), width, self.column_stride)
        keep[np.ix_(rows[rows < height], columns)] = True
        keep &= rng.random(depth.shape) >= self.dropout
        return _keep(depth, keep)


@dataclass(frozen=True)
class GridPrompt:
    """Super-resolution prompt: one sample per ``factor`` x ``factor`` block, at the block's
    centre pixel (the image of a low-res sensor with ``factor``x fewer pixels per side). Blocks
    whose centre is invalid stay empty. ``low_resolution`` gives the (H/f, W/f) map itself."""

    factor: int

    def centres(self, shape) -> tuple[np.ndarray, np.ndarray]:
        rows = np.arange(self.factor // 2, shape[0], self.factor)
        cols = np.arange(self.factor // 2, shape[1], self.factor)
        return rows, cols

    def __call__(self, depth_m, seed=0) -> np.ndarray:
        depth = check_depth(depth_m)
        keep = np.zeros_like(depth, dtype=bool)
        keep[np.ix_(*self.centres(depth.shape))] = True
        return _keep(depth, keep)

    def low_resolution(self, depth_m) -> np.ndarray:
        """(ceil(H/f), ceil(W/f)) float32 metres: the block-centre samples, 0 = missing."""
        depth = check_depth(depth_m)
        return depth[np.ix_(*self.centres(depth.shape))].astype(np.float32)


@dataclass(frozen=True)
class RadarPrompt:
    """Radar-like: ``num_points`` returns (fewer if the band has fewer valid pixels) inside a
    horizontal band of ``band_ratio`` of the image height around the centre row (radar has
    poor elevation coverage), each value with relative noise ``relative_noise``."""

    num_points: int
    band_ratio: float = 0.3
    relative_noise: float = 0.0

    def __call__(self, depth_m, seed=0) -> np.ndarray:
        depth = check_depth(depth_m)
        rng = _generator(seed)
        height = depth.shape[0]
        band = np.zeros_like(depth, dtype=bool)
        half = max(1, int(round(self.band_ratio * height / 2)))
        band[max(0, height // 2 - half) : height // 2 + half] = True
        valid = np.flatnonzero(band & (depth > 0))
        chosen = rng.choice(valid, size=min(self.num_points, valid.size), replace=False)
        out = np.zeros_like(depth)
        noise = 1.0 + rng.normal(0.0, self.relative_noise, chosen.size) if self.relative_noise else 1.0
        out.flat[chosen] = depth.flat[chosen] * noise
        return np.maximum(out, 0.0).astype(np.float32)


def _smooth_field(shape, rng, blob_px: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(rng.random(shape), sigma=blob_px)


@dataclass(frozen=True)
class BlobsPrompt:
    """Dense depth kept only inside random blobs covering ``keep_ratio`` of the valid pixels
    (a sensor with a narrow or patchy field of view)."""

    keep_ratio: float
    blob_px: float = 6.0

    def __call__(self, depth_m, seed=0) -> np.ndarray:
        depth = check_depth(depth_m)
        field = _smooth_field(depth.shape, _generator(seed), self.blob_px)
        valid = depth > 0
        if not valid.any():
            return np.zeros_like(depth)
        threshold = np.quantile(field[valid], 1.0 - self.keep_ratio)
        return _keep(depth, field > threshold)


@dataclass(frozen=True)
class HolesPrompt:
    """Dense depth with random holes removing ``hole_ratio`` of the valid pixels (depth
    inpainting / completion)."""

    hole_ratio: float
    blob_px: float = 6.0

    def __call__(self, depth_m, seed=0) -> np.ndarray:
        depth = check_depth(depth_m)
        field = _smooth_field(depth.shape, _generator(seed), self.blob_px)
        valid = depth > 0
        if not valid.any():
            return np.zeros_like(depth)
        threshold = np.quantile(field[valid], self.hole_ratio)
        return _keep(depth, field > threshold)


@dataclass(frozen=True)
class MixturePrompt:
    """Draws one sampler per call with probabilities proportional to ``weights``."""

    samplers: tuple
    weights: tuple[float, ...]

    def __call__(self, depth_m, seed=0):
        rng = _generator(seed)
        probabilities = np.asarray(self.weights, float) / np.sum(self.weights)
        return self.samplers[int(rng.choice(len(self.samplers), p=probabilities))](depth_m, rng)


def default_prompt_mixture() -> MixturePrompt:
    """The pretraining mixture: every prompt family, extreme sparsity and the prompt-free case."""
    return parse_prompt_spec(
        "mix:uniform:0.01@2,uniform:0.001@1,lidar:64@1,lidar:16@1,grid:8@1,grid:16@1,"
        "radar:64@1,extreme:10@1,blobs:0.3@1,holes:0.5@1,none@1"
    )


_FAMILIES = {
    "uniform": (UniformPrompt, float, lambda v: 0 < v <= 1, "a ratio in (0, 1], e.g. uniform:0.01"),
    "lidar": (LidarPrompt, int, lambda v: v >= 1, "a line count >= 1, e.g. lidar:64"),
    "grid": (GridPrompt, int, lambda v: v >= 2, "a block size >= 2, e.g. grid:8 or grid:16"),
    "radar": (RadarPrompt, int, lambda v: v >= 1, "a point count >= 1, e.g. radar:100"),
    "extreme": (ExtremePrompt, int, lambda v: v >= 1, "a point count >= 1, e.g. extreme:5"),
    "blobs": (BlobsPrompt, float, lambda v: 0 < v <= 1, "a kept ratio in (0, 1], e.g. blobs:0.3"),
    "holes": (HolesPrompt, float, lambda v: 0 <= v < 1, "a hole ratio in [0, 1), e.g. holes:0.5"),
}


def parse_prompt_spec(spec: str):
    """A sampler from a spec string (see the module docstring), or ``MaVlmInputError``."""
    spec = spec.strip()
    if spec.lower() == "none":
        return NoPrompt()
    if spec.startswith("mix:"):
        samplers, weights = [], []
        for part in spec[4:].split(","):
            inner, _, weight = part.rpartition("@") if "@" in part else (part, "", "1")
            samplers.append(parse_prompt_spec(inner))
            try:
                weights.append(float(weight))
            except ValueError:
                raise MaVlmInputError(f"bad mixture weight {weight!r} in {spec!r}; use SPEC@WEIGHT.") from None
        return MixturePrompt(tuple(samplers), tuple(weights))
    family, _, value = spec.partition(":")
    if family not in _FAMILIES:
        raise MaVlmInputError(
            f"unknown prompt spec {spec!r}; use none, {', '.join(f + ':...' for f in _FAMILIES)} or mix:..."
        )
    cls, cast, check, hint = _FAMILIES[family]
    try:
        number = cast(value)
    except ValueError:
        raise MaVlmInputError(f"prompt spec {spec!r} needs {hint}.") from None
    if not check(number):
        raise MaVlmInputError(f"prompt spec {spec!r} needs {hint}.")
    return cls(number)
