"""`ma-vlm intrinsics`, `ma-vlm reconstruct`, and the point-map side of `ma-vlm depth`.

    ma-vlm intrinsics IMAGE... --model POINTMAP_DIR [--output FILE.json]
    ma-vlm reconstruct IMAGE... --model POINTMAP_DIR --output OUT [--poses FILE] [--voxel-size M] [--tsdf]
    ma-vlm depth IMAGE... --model POINTMAP_DIR --output OUT          (run_depth_pointmap)
    ma-vlm depth IMAGE... --model DEPTH_DIR --intrinsics-model POINTMAP_DIR --output OUT
    ma-vlm multiview-data --output DIR [--views N --seed S --fov DEG]
    ma-vlm pretrain-pointmap --data RGBD_DIR --output DIR [--preset small --steps N]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ma_vlm.errors import MaVlmInputError
from ma_vlm.pointmap.image_outputs import (
    MIN_IMAGE_SIDE_PX,
    estimator_from_args,
    fields_of_view,
    read_image,
)

NOT_REGISTERED = ("NOT REGISTERED: no --poses given, so each view's cloud is in its own camera frame "
                  "(OpenCV axes, metres); they do not line up with each other.")


def register(subparsers) -> None:
    intrinsics = subparsers.add_parser("intrinsics", help="estimate camera intrinsics and fields of view per image")
    intrinsics.add_argument("images", nargs="+")
    intrinsics.add_argument("--model", required=True, help="converted Student-PointMap folder")
    intrinsics.add_argument("--output", default=None, help="also write the table as JSON here")
    _model_options(intrinsics)
    intrinsics.set_defaults(func=run_intrinsics)

    reconstruct = subparsers.add_parser("reconstruct", help="fuse per-view metric depth into one coloured point cloud")
    reconstruct.add_argument("images", nargs="+")
    reconstruct.add_argument("--model", required=True, help="converted Student-PointMap folder")
    reconstruct.add_argument("--output", required=True, help="output folder")
    reconstruct.add_argument("--poses", default=None,
                             help="JSON camera-to-world 4x4 per image ({stem: 4x4} or a list in order; OpenCV axes)")
    reconstruct.add_argument("--voxel-size", type=float, default=0.02, help="fused cloud voxel in metres (0: keep all)")
    reconstruct.add_argument("--tsdf", action="store_true", help="also a TSDF mesh (needs open3d: the [reconstruct] extra)")
    _model_options(reconstruct)
    reconstruct.set_defaults(func=run_reconstruct)

    views = subparsers.add_parser("multiview-data", help="render N views of one scene with poses, intrinsics and "
                                  "depth (a folder for reconstruct --poses and eval pointmap)")
    views.add_argument("--output", required=True)
    views.add_argument("--views", type=int, default=4)
    views.add_argument("--seed", type=int, default=0)
    views.add_argument("--layout", default="room", choices=["room", "tabletop", "street"])
    views.add_argument("--width", type=int, default=160)
    views.add_argument("--height", type=int, default=120)
    views.add_argument("--fov", type=float, default=70.0, help="horizontal field of view in degrees")
    views.add_argument("--arc", type=float, default=30.0, help="degrees of the orbit the views span")
    views.set_defaults(func=run_multiview_data)

    train = subparsers.add_parser("pretrain-pointmap", help="train a point-map student from scratch on RGB-D data "
                                  "(Transformers Trainer)", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    train.add_argument("--data", required=True, help="RGB-D dataset (`ma-vlm data generate` output)")
    train.add_argument("--output", required=True, help="model folder to write")
    train.add_argument("--preset", default="small", help="point-map preset: tiny, small, official")
    train.add_argument("--steps", type=int, default=300, help="optimiser steps")
    train.add_argument("--accumulate", type=int, default=4, help="images per optimiser step")
    train.add_argument("--lr", type=float, default=3e-4)
    train.add_argument("--num-tokens", type=int, default=96, help="ViT tokens per image while training")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--max-minutes", type=float, default=None, help="stop after this much training time")
    train.set_defaults(func=run_pretrain_pointmap)


def _model_options(parser) -> None:
    parser.add_argument("--resolution-level", type=int, default=9, help="0..9: ViT tokens from the model's range")
    parser.add_argument("--num-tokens", type=int, default=None, help="ViT tokens (overrides --resolution-level)")
    parser.add_argument("--device", default=None, help="cpu / cuda (default: cuda if available)")
    parser.add_argument("--camera-solver", choices=["exact", "published"], default=None,
                        help="focal/shift fit: exact (the model's default: to convergence) or published (the "
                             "official code's early-stopping solver, to reproduce its outputs exactly)")


def run_intrinsics(args: argparse.Namespace) -> int:
    from ma_vlm.atomic_io import write_json_atomic

    images = [(path, read_image(path)) for path in map(Path, args.images)]  # every image checked before the model loads
    estimator = estimator_from_args(args)
    rows = []
    print(f"{'image':24} {'W x H':>11} {'fx':>9} {'fy':>9} {'cx':>8} {'cy':>8} {'FoV x':>7} {'FoV y':>7}")
    for path, rgb in images:
        prediction = estimator(rgb)
        height, width = rgb.shape[:2]
        row = {"image": str(path), "width": width, "height": height, "cam_in": prediction.intrinsics,
               **fields_of_view(prediction.intrinsics, width, height)}
        rows.append(row)
        fx, fy, cx, cy = prediction.intrinsics
        print(f"{path.name[:24]:24} {width:>5} x {height:<5}{fx:9.1f} {fy:9.1f} {cx:8.1f} {cy:8.1f} "
              f"{row['fov_x_deg']:6.1f}° {row['fov_y_deg']:6.1f}°")
    if args.output:
        write_json_atomic(args.output, {"model": args.model, "images": rows})
    return 0


def run_multiview_data(args: argparse.Namespace) -> int:
    from ma_vlm.pointmap.multiview_data import render_multiview

    if args.views < 1:
        raise MaVlmInputError(f"--views must be at least 1, got {args.views}")
    if not 0 < args.fov < 180:
        raise MaVlmInputError(f"--fov {args.fov}: a field of view is between 0 and 180 degrees (exclusive)")
    if args.width < MIN_IMAGE_SIDE_PX or args.height < MIN_IMAGE_SIDE_PX:
        raise MaVlmInputError(f"--width/--height {args.width} x {args.height}: give at least {MIN_IMAGE_SIDE_PX} px")
    names = render_multiview(args.output, args.views, args.seed, args.layout, args.width, args.height, args.fov,
                             args.arc)
    print(f"wrote {len(names)} views (.png, _depth.png mm, .json cam_in) and poses.json to {args.output}")
    return 0


def run_pretrain_pointmap(args: argparse.Namespace) -> int:
    from ma_vlm.pointmap.train import train_pointmap

    if args.steps < 1:
        raise MaVlmInputError(f"--steps {args.steps}: give at least 1 (0 steps would save an untrained model)")
    if args.accumulate < 1 or args.num_tokens < 1 or not args.lr > 0:
        raise MaVlmInputError("--accumulate and --num-tokens must be at least 1, and --lr positive")
    data, output = Path(args.data).resolve(), Path(args.output).resolve()
    if output == data or data in output.parents or output in data.parents:
        raise MaVlmInputError(f"--output {args.output} and --data {args.data} overlap; write the model to a "
                              "folder outside the dataset (and not around it)")
    history = train_pointmap(args.data, args.output, args.preset, args.steps, args.lr, args.accumulate,
                             args.num_tokens, args.seed, args.max_minutes)
    losses = [entry["loss"] for entry in history if "loss" in entry]
    steps = max((entry.get("step", 0) for entry in history), default=0)
    print(f"wrote {args.output}; loss {losses[0]:.3f} -> {losses[-1]:.3f} over {steps} steps" if losses
          else f"wrote {args.output}")
    return 0


def run_reconstruct(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ma_vlm.atomic_io import write_json_atomic
    from ma_vlm.pointmap.reconstruct import View, fuse_views, read_poses, scale_consistency, tsdf_mesh
    from ma_vlm.visualize import save_point_cloud_ply

    paths = [Path(p) for p in args.images]
    stems = [p.stem for p in paths]
    if len(set(stems)) != len(stems):
        raise MaVlmInputError("two images share a file stem; rename them so each view has its own name")
    poses = read_poses(args.poses, stems) if args.poses else None
    if args.tsdf and poses is None:
        raise MaVlmInputError("--tsdf fuses registered views; give --poses")
    estimator = estimator_from_args(args)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    views, report = [], {"model": args.model, "registered": poses is not None, "views": []}
    for path in tqdm(paths, desc="views", unit="image"):
        rgb = read_image(path)
        prediction = estimator(rgb)
        view = View(path.stem, rgb, prediction.depth_m, prediction.intrinsics)
        views.append(view)
        valid = prediction.depth_m[prediction.mask]
        report["views"].append({"name": path.stem, "cam_in": prediction.intrinsics,
                                "metric_scale": prediction.metric_scale,
                                "median_depth_m": float(valid.mean()) if valid.size else None})
        if poses is None:
            points, colors = view.points_camera()
            save_point_cloud_ply(points, colors, output / f"{path.stem}.ply")
    if poses is None:
        report["statement"] = NOT_REGISTERED
        print(f"wrote {len(views)} per-view clouds to {output}. {NOT_REGISTERED}")
    else:
        points, colors = fuse_views(views, poses, args.voxel_size)
        count = save_point_cloud_ply(points, colors, output / "fused.ply")
        report["scale_consistency"] = consistency = scale_consistency(views, poses)
        print(f"wrote {output / 'fused.ply'} ({count:,} points, voxel {args.voxel_size} m). Scale consistency over "
              f"{consistency['num_pairs']} view pairs: median depth ratio in {consistency['median_depth_ratio_range']}")
        if args.tsdf:
            triangles = tsdf_mesh(views, poses, max(args.voxel_size, 0.01), output / "tsdf_mesh.ply")
            report["tsdf_triangles"] = triangles if isinstance(triangles, int) else None
            if isinstance(triangles, str):
                print(f"no TSDF mesh: {triangles}")
            elif triangles == 0:
                print("the TSDF mesh came out empty (Open3D integrated nothing); use fused.ply")
            else:
                print(f"wrote {output / 'tsdf_mesh.ply'} ({triangles:,} triangles)")
    write_json_atomic(output / "reconstruction.json", report)
    return 0
