"""torch.compile against eager on CPU: graph breaks (torch._dynamo.explain) and time per forward.

    python perf/compile_speed.py [--models tower depth pointmap] [--preset tiny] [--repeats 5]

For each model: the number of graphs and the reason of every graph break, the first compiled
call (compilation included), then the median of `--repeats` forwards after one warm-up, eager
and compiled (Inductor, fullgraph=True where the model has one graph), and their largest
difference. Random weights at a preset's size: the time depends on the shapes, not the values.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def models(preset: str):
    from ma_vlm.models.metric_anything import MetricAnythingForDepthEstimation, preset_config
    from ma_vlm.models.metric_anything_pointmap import MetricAnythingForPointMapEstimation
    from ma_vlm.models.metric_anything_pointmap.presets import pointmap_preset_config

    torch.manual_seed(0)
    depth = MetricAnythingForDepthEstimation(preset_config(preset)).eval()
    pointmap = MetricAnythingForPointMapEstimation(pointmap_preset_config(preset)).eval()
    size = depth.config.image_size
    pixels, focal = torch.randn(1, 3, size, size), torch.tensor([float(size)])
    return {
        "tower": (lambda x: depth.model(x).last_hidden_state, (pixels,)),
        "depth": (lambda x, f: depth(pixel_values=x, focal_length_px=f).predicted_depth, (pixels, focal)),
        "pointmap": (lambda x: pointmap(pixel_values=x, resolution_level=9).predicted_depth,
                     (torch.randn(1, 3, 480, 640),)),
    }


def median_ms(function, args, repeats: int) -> float:
    function(*args)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["tower", "depth", "pointmap"])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    table = models(args.preset)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, preset {args.preset}")
    with torch.no_grad():
        for name in args.models:
            function, inputs = table[name]
            explanation = torch._dynamo.explain(function)(*inputs)
            print(f"{name}: {explanation.graph_count} graph(s), {explanation.graph_break_count} break(s)")
            for reason in explanation.break_reasons:
                where = reason.user_stack[-1] if reason.user_stack else ""
                print(f"  break: {reason.reason.splitlines()[0][:160]} at {where}")
            torch._dynamo.reset()
            compiled = torch.compile(function, fullgraph=explanation.graph_count == 1)
            start = time.perf_counter()
            got = compiled(*inputs)
            first_s = time.perf_counter() - start
            difference = (got - function(*inputs)).abs().max().item()
            eager_ms = median_ms(function, inputs, args.repeats)
            compiled_ms = median_ms(compiled, inputs, args.repeats)
            print(f"  first compiled call {first_s:.1f} s; eager {eager_ms:.1f} ms, compiled {compiled_ms:.1f} ms "
                  f"(x{eager_ms / compiled_ms:.2f}); max |compiled - eager| {difference:.2e}")


if __name__ == "__main__":
    main()
