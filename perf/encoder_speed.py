"""Encoder speed: ma-vlm's tower vs a straightforward reference, and vs this CPU's matmul peak.

    .venv/bin/python perf/encoder_speed.py [--preset small] [--repeats 5] [--threads N]

The reference (tests/official_reference.py) is the official forward written plainly: tiles go
through the ViT one at a time and forward hooks catch the tapped blocks. Ours batches all 35
tiles into one call of Transformers' DINOv3 and keeps only the tapped layers. Both run the same
random weights in the official key layout, at the same config, in this process; the script
prints the median times, the speed ratio, the largest difference between their outputs, and the
tower's achieved GFLOP/s against a measured fp32 / bf16 matmul peak on this machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from official_reference import OfficialStudentDepthMap, make_official_state_dict  # noqa: E402

from ma_vlm.encoders import MetricAnythingForDepthEstimation, preset_config  # noqa: E402
from ma_vlm.encoders.convert_official import convert_state_dict, load_converted  # noqa: E402
from ma_vlm.encoders.pyramid import tile_grid  # noqa: E402


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_peak_gflops(dtype: torch.dtype, size: int = 2048, repeats: int = 5) -> float:
    """Achieved GFLOP/s of a square matmul. A 512 probe first: CPUs without AMX/AVX512-BF16 run
    bf16 matmuls on a slow fallback (well under 1 GFLOP/s), where a 2048 one would take minutes."""
    probe = torch.randn(512, 512, dtype=dtype)
    start = time.perf_counter()
    probe @ probe
    if 2 * 512**3 / (time.perf_counter() - start) / 1e9 < 5:
        size, repeats = 512, 1
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    seconds = median_seconds(lambda: a @ b, repeats)
    return 2 * size**3 / seconds / 1e9


def tower_gflop(config) -> float:
    """Multiply-adds x 2 of one pyramid forward of the ViT (all tiles, all blocks)."""
    backbone = config.backbone_config
    dim, hidden, depth = backbone.hidden_size, backbone.intermediate_size, backbone.num_hidden_layers
    tokens = config.tokens_per_tile**2 + config.num_prefix_tokens
    tiles = sum(tile_grid(config.image_size >> level, config.tile_size, config.tile_overlaps[level])[0] ** 2
                for level in (0, 1)) + 1
    per_block = 2 * tokens * dim * (4 * dim + 3 * hidden) + 4 * tokens * tokens * dim
    patch_embed = 2 * config.tokens_per_tile**2 * dim * 3 * backbone.patch_size**2
    return tiles * (depth * per_block + patch_embed) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="small", choices=["tiny", "small", "official-layout-tiny"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    config = preset_config(args.preset)
    backbone = config.backbone_config
    state = make_official_state_dict(
        hidden=backbone.hidden_size, heads=backbone.num_attention_heads, depth=backbone.num_hidden_layers,
        ffn_hidden=backbone.intermediate_size, registers=backbone.num_register_tokens, patch=backbone.patch_size,
        tap_dims=tuple(config.tap_feature_dims), level_dims=tuple(config.level_feature_dims),
        decoder=config.decoder_hidden_size, head_hidden=config.head_hidden_size,
    )
    model = MetricAnythingForDepthEstimation(config).eval()
    load_converted(model, convert_state_dict(state, config))
    reference = OfficialStudentDepthMap(state, heads=backbone.num_attention_heads, taps=tuple(config.tap_layers),
                                        image_size=config.image_size, tile=config.tile_size)
    pixel_values = torch.randn(1, 3, config.image_size, config.image_size)

    with torch.no_grad():
        ours = model.model(pixel_values)
        hooked, full, half, quarter = reference.encoder_features(pixel_values)
        pairs = list(zip(ours.tap_features, hooked)) + list(zip(ours.level_features, (full, half, quarter)))
        max_abs = max((a - b).abs().max().item() for a, b in pairs)
        scale = max(b.abs().max().item() for _, b in pairs)

        t_reference = median_seconds(lambda: reference.encoder_features(pixel_values), args.repeats)
        t_ours = median_seconds(lambda: model.model(pixel_values), args.repeats)

        def ours_bf16():
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return model.model(pixel_values)

        t_bf16 = median_seconds(ours_bf16, args.repeats)
        bf16 = ours_bf16()
        bf16_rel = max(((a.float() - b).abs().mean() / b.abs().mean()).item() for a, b in
                       zip(bf16.level_features, ours.level_features))

    gflop = tower_gflop(config)
    peak32, peak16 = matmul_peak_gflops(torch.float32), matmul_peak_gflops(torch.bfloat16)
    print(f"preset {args.preset}: {config.image_size}px pyramid, {config.tile_size}px tiles, ViT width "
          f"{backbone.hidden_size} x {backbone.num_hidden_layers} blocks, {torch.get_num_threads()} threads")
    print(f"tower work: {gflop:.1f} GFLOP per image")
    print(f"reference (tiles one by one, hooks): {t_reference * 1e3:8.1f} ms")
    print(f"ma-vlm fp32 (one batched ViT call):  {t_ours * 1e3:8.1f} ms   speed-up x{t_reference / t_ours:.2f}")
    print(f"ma-vlm bf16 autocast:                {t_bf16 * 1e3:8.1f} ms   speed-up x{t_reference / t_bf16:.2f}")
    print(f"max |ours - reference| over taps and level maps: {max_abs:.2e} (outputs up to {scale:.2f})")
    print(f"bf16 mean relative deviation from fp32: {bf16_rel:.2e}")
    print(f"matmul peak (square, 2048 unless too slow): fp32 {peak32:.1f} GFLOP/s, bf16 {peak16:.2f} GFLOP/s")
    print(f"tower achieved: fp32 {gflop / t_ours:.1f} GFLOP/s = {gflop / t_ours / peak32:.0%} of the fp32 matmul peak")
    if peak16 < peak32:
        print(f"bf16 is no fast path on this CPU (no AMX/AVX512-BF16 matmul): tower bf16 {gflop / t_bf16:.1f} GFLOP/s")
    else:
        print(f"tower achieved: bf16 {gflop / t_bf16:.1f} GFLOP/s = {gflop / t_bf16 / peak16:.0%} of the bf16 peak")


if __name__ == "__main__":
    main()
