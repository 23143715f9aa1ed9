"""``ma-vlm eval pointmap``: intrinsics error and point-map metrics of a point-map model (or the
fixed-60-degree baseline) on rendered RGB-D data or folders with cam_in.

    ma-vlm eval pointmap --model DIR|baseline:fov60 --data PATH --output FILE.json
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    pointmap = subparsers.add_parser(
        "pointmap", help="focal / principal-point error, point-map AbsRel and delta after alignment",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    pointmap.add_argument("--model", required=True, help="a Student-PointMap folder, or baseline:fov60")
    pointmap.add_argument("--data", required=True, help="HF dataset from `ma-vlm data generate`, a folder with "
                          "<stem>.png, <stem>_depth.png (mm), <stem>.json cam_in, NYUv2 .mat or KITTI")
    pointmap.add_argument("--format", default="auto", choices=["auto", "nyuv2", "kitti", "folder", "hf"])
    pointmap.add_argument("--output", required=True, help="report JSON path")
    pointmap.add_argument("--limit", type=int, default=None, help="evaluate the first N images only")
    pointmap.add_argument("--seen-camera-models", type=int, default=None, metavar="N",
                          help="training used camera-zoo models 0..N-1 (`data generate --camera-models N`): also "
                               "report the images whose camera is held out")
    pointmap.add_argument("--resolution-level", type=int, default=9)
    pointmap.add_argument("--num-tokens", type=int, default=None)
    pointmap.set_defaults(func=_evaluate)


def _evaluate(args) -> int:
    from ma_vlm.atomic_io import write_json_atomic
    from ma_vlm.benchmarks.depth.readers import open_depth_benchmark
    from ma_vlm.pointmap.evaluate import evaluate_pointmap, load_pointmap_predictor

    benchmark = open_depth_benchmark(args.data, args.format)
    predict = load_pointmap_predictor(args.model, args.resolution_level, args.num_tokens)
    seen = range(args.seen_camera_models) if args.seen_camera_models is not None else None
    report = evaluate_pointmap(predict, benchmark, args.limit, seen)
    report["model"], report["data"] = args.model, str(args.data)
    write_json_atomic(args.output, report)
    m = report["metrics"]
    line = (f"{benchmark.name} ({report['num_images']} images): focal error mean {m['focal_rel_error']:.1%} "
            f"median {m['focal_rel_error_median']:.1%}, principal point {m['principal_point_error_px']:.1f} px")
    if "point_rel_affine" in m:
        line += (f"; points rel metric/scale/affine {m['point_rel_metric']:.3f}/{m['point_rel_scale']:.3f}/"
                 f"{m['point_rel_affine']:.3f}; depth AbsRel {m['depth_abs_rel_metric']:.3f} "
                 f"(scaled {m['depth_abs_rel_scale']:.3f}), delta1 {m['depth_delta1_metric']:.3f}")
    held_out = report.get("metrics_held_out_cameras")
    if held_out:
        line += (f"; held-out cameras ({report['num_images_held_out_cameras']} images): focal error mean "
                 f"{held_out['focal_rel_error']:.1%} median {held_out['focal_rel_error_median']:.1%}")
    print(f"{line} -> {args.output}")
    return 0
