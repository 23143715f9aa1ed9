"""``ma-vlm eval depth``: score a depth model (or the interpolation baseline) on a benchmark.

    ma-vlm eval depth --model DIR|baseline:linear --data PATH [--prompt SPEC] --output FILE.json
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    depth = subparsers.add_parser(
        "depth", help="metric depth metrics (AbsRel, RMSE, delta1...) on NYUv2, KITTI, folders, HF datasets",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    depth.add_argument("--model", required=True,
                       help="a Metric Anything model folder, or baseline:nearest / baseline:linear")
    depth.add_argument("--data", required=True,
                       help="NYUv2 labelled .mat, KITTI depth_selection folder, <stem>_depth.png folder or HF dataset")
    depth.add_argument("--format", default="auto", choices=["auto", "nyuv2", "kitti", "folder", "hf"])
    depth.add_argument("--prompt", default="none",
                       help="sparse metric prompt from the ground truth: none, uniform:0.01, lidar:64, grid:8, "
                            "grid:16, radar:N, extreme:N, or sensor (the benchmark's own LiDAR)")
    depth.add_argument("--output", required=True, help="report JSON path")
    depth.add_argument("--seed", type=int, default=0, help="prompt sampling seed")
    depth.add_argument("--limit", type=int, default=None, help="evaluate the first N images only")
    depth.add_argument("--min-depth", type=float, default=None, help="override the protocol's minimum (m)")
    depth.add_argument("--max-depth", type=float, default=None, help="override the protocol's maximum (m)")
    depth.add_argument("--crop", default=None, choices=["none", "eigen_nyu", "garg", "eigen_kitti"],
                       help="override the protocol's crop")
    depth.set_defaults(func=_evaluate)


def _evaluate(args) -> int:
    from dataclasses import replace

    from ma_vlm.benchmarks.depth.readers import open_depth_benchmark
    from ma_vlm.benchmarks.depth.runner import evaluate_depth, load_predictor, write_report

    benchmark = open_depth_benchmark(args.data, args.format)
    protocol = benchmark.protocol
    if args.min_depth is not None:
        protocol = replace(protocol, min_depth_m=args.min_depth)
    if args.max_depth is not None:
        protocol = replace(protocol, max_depth_m=args.max_depth)
    if args.crop is not None:
        protocol = replace(protocol, crop=None if args.crop == "none" else args.crop)
    predict = load_predictor(args.model)
    prompt = None if args.prompt == "none" else args.prompt
    report = evaluate_depth(predict, benchmark, prompt, protocol, seed=args.seed, limit=args.limit)
    report["model"], report["data"] = args.model, str(args.data)
    write_report(report, args.output)
    metrics = report["metrics"]
    print(f"{benchmark.name} ({report['num_images']} images, prompt {report['prompt']}): "
          f"AbsRel {metrics['abs_rel']:.4f}  RMSE {metrics['rmse']:.4f} m  delta1 {metrics['delta1']:.4f}"
          f" -> {args.output}")
    return 0
