"""Speed of the depth network: ma-vlm against the official code and a faithful reference.

    .venv/bin/python perf/encoder_speed.py [--width 384 --blocks 12] [--official-repo PATH]
        [--threads 2] [--repeats 3] [--bf16 auto|yes|no] [--device cpu|cuda]

Same random weights (official key layout) in every implementation, the official layout
(1536 px input, 35 tiles of 384 px, 4 registers; `official-layout-tiny` widths unless
`--width`/`--blocks` say otherwise), one image, network alone (pixels -> canonical inverse depth),
timed interleaved in this one process, median of `--repeats`:

- reference: tests/official_reference.py, the official forward written plainly (all tiles in one
  ViT call as the official encoder, hooks for the taps).
- official: with `--official-repo PATH` (a checkout of metric-anything/metric-anything), the
  official modules themselves, imported from PATH at run time (perf/official_code.py).
- ma-vlm: `MetricAnythingForDepthEstimation` (its CPU inference forward keeps freed memory in
  the heap while it runs, `ma_vlm/models/cpu_heap.py`; for the like-for-like code comparison
  run this script with MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ set, which turns that
  off and gives every implementation the same allocator behaviour).

Prints times, ratios (> 1: ma-vlm faster) and the largest relative difference of the outputs
(parity tolerance 1e-4). bf16 autocast runs when the CPU has a bf16 matmul path (AMX or
AVX512-BF16), or with `--bf16 yes`; without one bf16 is an emulation and its timing says little.
`--device cuda` times on the GPU (synchronised; bf16 always, the GPU has bf16 matmuls), prints
each network's peak GPU memory and leaves the reference out (it keeps its weights as plain
tensors on the CPU); outputs are then compared with the official code's.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from ma_vlm.models.metric_anything import MetricAnythingForDepthEstimation, preset_config
from ma_vlm.models.metric_anything.convert import convert_state_dict, load_converted
from ma_vlm.runtime import cpu_bf16_support
from ma_vlm.testing.official_reference import OfficialStudentDepthMap, make_official_state_dict

PARITY_TOLERANCE = 1e-4  # relative, as tests/models/metric_anything/test_official_parity.py


def build_config(args):
    overrides = {}
    base = preset_config(args.preset)
    backbone = base.backbone_config.to_dict()
    if args.width:
        backbone.update(hidden_size=args.width, intermediate_size=4 * args.width, num_attention_heads=args.width // 64)
    if args.blocks:
        backbone.update(num_hidden_layers=args.blocks)
        overrides["tap_layers"] = [args.blocks * k // 4 - 1 for k in (1, 2, 3, 4)]
    return preset_config(args.preset, backbone_config=backbone, **overrides)


def official_state(config) -> dict:
    backbone = config.backbone_config
    return make_official_state_dict(
        hidden=backbone.hidden_size, heads=backbone.num_attention_heads, depth=backbone.num_hidden_layers,
        ffn_hidden=backbone.intermediate_size, registers=backbone.num_register_tokens, patch=backbone.patch_size,
        tap_dims=tuple(config.tap_feature_dims), level_dims=tuple(config.level_feature_dims),
        decoder=config.decoder_hidden_size, head_hidden=config.head_hidden_size,
    )


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_interleaved(runs: dict, repeats: int, device: torch.device = torch.device("cpu")) -> dict:
    """Median seconds of each callable, run in turn (so load on the machine hits all alike)."""
    for run in runs.values():
        run()  # warm-up
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            synchronize(device)
            start = time.perf_counter()
            run()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def peak_memory_gib(runs: dict, device: torch.device) -> dict:
    """Peak GPU memory of one call of each callable, GiB (weights included)."""
    peaks = {}
    for name, run in runs.items():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        run()
        synchronize(device)
        peaks[name] = torch.cuda.max_memory_allocated(device) / 2**30
    return peaks


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.float() - b.float()).abs().max() / b.float().abs().max()).item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="official-layout-tiny", choices=["official-layout-tiny", "official"])
    parser.add_argument("--width", type=int, default=None, help="ViT width (heads = width / 64), e.g. 384")
    parser.add_argument("--blocks", type=int, default=None, help="ViT depth (taps at quarters), e.g. 12")
    parser.add_argument("--official-repo", type=Path, default=None, help="checkout of the official code")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--bf16", choices=["auto", "yes", "no"], default="auto")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (cuda: bf16 timed too, no reference)")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: this torch sees no CUDA GPU; run without --device on a CPU machine")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    config = build_config(args)
    state = official_state(config)
    ours = MetricAnythingForDepthEstimation(config).eval()
    load_converted(ours, convert_state_dict(state, config))
    backbone = config.backbone_config
    networks = {}
    if device.type == "cpu":
        reference = OfficialStudentDepthMap(state, heads=backbone.num_attention_heads, taps=tuple(config.tap_layers),
                                            image_size=config.image_size, tile=config.tile_size)
        networks["reference"] = reference.canonical_inverse_depth
    if args.official_repo is not None:
        from official_code import load_official_network

        networks["official"] = load_official_network(args.official_repo, config, state).to(device)
    if not networks:
        raise SystemExit("--device cuda compares with the official code: pass --official-repo PATH")
    ours.to(device)
    networks["ma-vlm"] = lambda x: ours(x).canonical_inverse_depth[:, None]
    pixel_values = torch.randn(1, 3, config.image_size, config.image_size).to(device)

    bf16 = cpu_bf16_support()
    where = f"{torch.get_num_threads()} threads" if device.type == "cpu" else f"GPU {torch.cuda.get_device_name(device)}"
    print(f"config: {config.image_size} px, {config.tile_size} px tiles, ViT width {backbone.hidden_size} x "
          f"{backbone.num_hidden_layers} blocks, taps {config.tap_layers}; {where}; "
          f"torch {torch.__version__}; CPU bf16 matmul support: {bf16}")
    with torch.inference_mode():
        outputs = {name: net(pixel_values) for name, net in networks.items()}
        base = outputs.get("official", outputs.get("reference"))
        fp32_runs = {name: (lambda net=net: net(pixel_values)) for name, net in networks.items()}
        fp32 = time_interleaved(fp32_runs, args.repeats, device)
        report("fp32", fp32, {name: relative_difference(out, base) for name, out in outputs.items()})
        if device.type == "cuda":
            report_memory("fp32", peak_memory_gib(fp32_runs, device))
        if device.type == "cuda" or args.bf16 == "yes" or (args.bf16 == "auto" and bf16 in ("AMX", "AVX512-BF16")):

            def autocast(net):
                def run():
                    with torch.autocast(device.type, dtype=torch.bfloat16):
                        return net(pixel_values)
                return run

            runs = {name: autocast(net) for name, net in networks.items()}
            deviation = {name: ((run().float() - base).abs().mean() / base.abs().mean()).item()
                         for name, run in runs.items()}
            report("bf16 autocast", time_interleaved(runs, args.repeats, device), deviation, tolerance=1e-2)
            if device.type == "cuda":
                report_memory("bf16 autocast", peak_memory_gib(runs, device))
        else:
            print(f"bf16: not timed (CPU bf16 support: {bf16}; bf16 matmuls would be emulated; --bf16 yes forces)")


def report(label: str, seconds: dict, difference: dict, tolerance: float = PARITY_TOLERANCE) -> None:
    ours = seconds["ma-vlm"]
    for name, value in seconds.items():
        ratio = "" if name == "ma-vlm" else f"   ma-vlm is x{value / ours:.2f} faster"
        within = "within" if difference[name] <= tolerance else "OUTSIDE"
        print(f"{label:14s} {name:10s} {value * 1e3:9.1f} ms   output difference {difference[name]:.1e} "
              f"({within} {tolerance:g}){ratio}")


def report_memory(label: str, peaks: dict) -> None:
    ours = peaks["ma-vlm"]
    for name, value in peaks.items():
        ratio = "" if name == "ma-vlm" else f"   ma-vlm needs x{ours / value:.2f} of it"
        print(f"{label:14s} {name:10s} peak GPU memory {value:6.2f} GiB{ratio}")


if __name__ == "__main__":
    main()
