"""`ma-vlm convert` and `ma-vlm depth`."""

from __future__ import annotations

import argparse
from pathlib import Path

from ma_vlm.errors import MaVlmInputError
from ma_vlm.inputs import MAX_IMAGE_MEGAPIXELS, load_prompt_depth


def register(subparsers) -> None:
    convert = subparsers.add_parser("convert", help="official checkpoint -> Transformers folder")
    convert.add_argument("checkpoint", help="student_depthmap.pt / student_pointmap.pt / .safetensors, a folder, "
                         "or a hub id org/name[/file]")
    convert.add_argument("output_dir")
    convert.add_argument("--num-attention-heads", type=int, default=None,
                         help="ViT heads (default: from the RoPE buffer, else the official 20)")
    convert.add_argument("--tap-layers", type=int, nargs=4, default=None, help="0-based tapped blocks (default 7 13 19 25)")
    convert.add_argument("--overwrite", action="store_true", help="replace a non-empty OUTPUT_DIR")
    convert.set_defaults(func=run_convert)

    depth = subparsers.add_parser("depth", help="metric depth, colour map and point cloud per image (a point-map "
                                  "model also writes _points.npy, _mask.npy and the recovered cam_in .json)")
    depth.add_argument("images", nargs="+")
    depth.add_argument("--model", required=True, help="converted folder or hub id")
    depth.add_argument("--output", required=True, help="output folder")
    focal = depth.add_mutually_exclusive_group()
    focal.add_argument("--focal-length-px", type=float, help="focal length in pixels of the input images")
    focal.add_argument("--assume-fov", type=float, metavar="DEG",
                       help="assume this horizontal field of view for images without <stem>.json")
    focal.add_argument("--intrinsics-model", metavar="POINTMAP_DIR",
                       help="images without a focal length (flag or <stem>.json) get the intrinsics a "
                            "Student-PointMap model recovers from them")
    depth.add_argument("--prompt-depth", nargs="+", default=None, metavar="FILE",
                       help="teacher models: one sparse metric depth per image, in order (.npy metres or "
                            ".png uint16 millimetres, 0 = missing, the image's own size): depth completion")
    depth.add_argument("--device", default=None, help="cpu / cuda (default: cuda if available)")
    depth.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    depth.add_argument("--max-megapixels", type=float, default=MAX_IMAGE_MEGAPIXELS,
                       help="refuse larger images (memory grows ~100 bytes per pixel); raise it for big images")
    depth.add_argument("--resolution-level", type=int, default=9, help="point-map models: 0..9, ViT tokens")
    depth.add_argument("--num-tokens", type=int, default=None, help="point-map models: ViT tokens (overrides level)")
    depth.set_defaults(func=run_depth)


def run_convert(args: argparse.Namespace) -> int:
    from ma_vlm.models.metric_anything.convert import convert_checkpoint
    from ma_vlm.models.metric_anything_pointmap.convert import read_pointmap_checkpoint

    pointmap = read_pointmap_checkpoint(args.checkpoint)
    if pointmap is not None:  # MoGe format {"model_config", "model"}: Student-PointMap
        return run_convert_pointmap(args, pointmap)
    model = convert_checkpoint(args.checkpoint, args.output_dir, args.num_attention_heads,
                               tuple(args.tap_layers) if args.tap_layers else None, args.overwrite)
    count = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.output_dir}: MetricAnythingForDepthEstimation, {count:,} parameters")
    return 0


def run_convert_pointmap(args: argparse.Namespace, loaded) -> int:
    from ma_vlm.models.metric_anything_pointmap.convert import convert_pointmap_checkpoint

    if args.tap_layers:
        raise MaVlmInputError("--tap-layers is for Student-DepthMap; a point-map checkpoint's model_config names its taps")
    model = convert_pointmap_checkpoint(args.checkpoint, args.output_dir, args.num_attention_heads, args.overwrite,
                                        loaded=loaded)
    count = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.output_dir}: MetricAnythingForPointMapEstimation, {count:,} parameters")
    return 0


def camera_for_image(image_path: Path, width: int, height: int, focal_length_px=None, assume_fov=None):
    """Intrinsics for one image: --focal-length-px, else <stem>.json, else --assume-fov, else an error."""
    from ma_vlm.geometry import Intrinsics

    if focal_length_px is not None:
        return Intrinsics.from_focal_length(focal_length_px, width, height)
    sidecar = image_path.with_suffix(".json")
    if sidecar.exists():
        return Intrinsics.from_json(sidecar)
    if assume_fov is not None:
        return Intrinsics.from_fov(assume_fov, width, height)
    raise MaVlmInputError(
        f"no focal length for {image_path.name}: pass --focal-length-px F (pixels), put "
        f'{sidecar.name} with {{"cam_in": [fx, fy, cx, cy]}} beside the image, or choose a field of view '
        "explicitly with --assume-fov DEG"
    )


def planned_outputs(paths: list[Path], output: Path) -> list[tuple[Path, Path]]:
    """(file `ma-vlm depth` writes, the image it comes from) pairs."""
    return [(output / f"{path.stem}{suffix}", path) for path in paths for suffix in (".npy", ".png", ".ply")]


def run_depth(args: argparse.Namespace) -> int:
    from ma_vlm.pointmap.inference import is_pointmap_model

    if is_pointmap_model(args.model):
        from ma_vlm.pointmap.image_outputs import run_depth_pointmap

        return run_depth_pointmap(args)
    return run_depth_model(args)


def run_depth_model(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from tqdm import tqdm

    from ma_vlm.depth.inference import load_depth_model, predict_metric_depth
    from ma_vlm.geometry import backproject
    from ma_vlm.inputs import check_outputs_spare_inputs, ensure_output_dir, open_image
    from ma_vlm.models.metric_anything import MetricAnythingImageProcessor
    from ma_vlm.visualize import save_depth_colormap, save_npy, save_point_cloud_ply

    paths = [Path(p) for p in args.images]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise MaVlmInputError(f"image not found: {', '.join(missing)}")
    if args.prompt_depth is not None and len(args.prompt_depth) != len(paths):
        raise MaVlmInputError(f"--prompt-depth got {len(args.prompt_depth)} files for {len(paths)} images; "
                              "give one per image, in the same order")
    output = Path(args.output)
    sidecars = [p.with_suffix(".json") for p in paths if p.with_suffix(".json").exists()]
    check_outputs_spare_inputs(planned_outputs(paths, output),
                               paths + [Path(p) for p in args.prompt_depth or []] + sidecars)
    ensure_output_dir(output)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = load_depth_model(args.model, dtype=getattr(torch, args.dtype)).to(device)
    processor = MetricAnythingImageProcessor.from_pretrained(args.model)
    estimate_intrinsics = None
    if args.intrinsics_model is not None:
        from ma_vlm.pointmap.image_outputs import IntrinsicsFromPointMap

        estimate_intrinsics = IntrinsicsFromPointMap(args.intrinsics_model, device)
    for index, path in enumerate(tqdm(paths, desc="depth", unit="image")):
        image = open_image(path, args.max_megapixels)
        if estimate_intrinsics is not None and args.focal_length_px is None and not path.with_suffix(".json").exists():
            intrinsics = estimate_intrinsics(path, image)
        else:
            intrinsics = camera_for_image(path, image.width, image.height, args.focal_length_px, args.assume_fov)
        prompt = None
        if args.prompt_depth is not None:
            if not model.config.use_prompt:
                raise MaVlmInputError(f"{args.model} is a prompt-free model; --prompt-depth needs a teacher "
                                      "(ma-vlm pretrain output, config use_prompt=True)")
            prompt = load_prompt_depth(Path(args.prompt_depth[index]), image.height, image.width)
        depth_m = predict_metric_depth(model, processor, image, intrinsics.fx, prompt_depth=prompt)
        if not np.isfinite(depth_m).all():
            raise MaVlmInputError(f"{args.model} predicted non-finite depth for {path}; its weights or this "
                                  "image are broken (nothing written for it)")
        rgb = np.asarray(image.convert("RGB"))
        save_npy(depth_m, output / f"{path.stem}.npy")
        save_depth_colormap(depth_m, output / f"{path.stem}.png", title=f"{path.name} (fx {intrinsics.fx:.1f} px)")
        save_point_cloud_ply(backproject(depth_m, intrinsics), rgb, output / f"{path.stem}.ply")
    print(f"wrote {len(paths)} x (.npy metres, .png colour map, .ply point cloud) to {output}")
    return 0
