"""What `ma-vlm depth`, `intrinsics` and `reconstruct` share for a point-map model: reading an
image, the estimator from the command's options, fields of view, and the files of a point-map
`ma-vlm depth` run."""

from __future__ import annotations

import argparse
from pathlib import Path

from ma_vlm.errors import MaVlmInputError


def estimator_from_args(args):
    """The `PointMapEstimator` a command's --model, --device, --resolution-level, --num-tokens and
    --camera-solver describe (the defaults where a command has no such option)."""
    from ma_vlm.pointmap.inference import PointMapEstimator

    return PointMapEstimator(args.model, getattr(args, "device", None), getattr(args, "resolution_level", 9),
                             getattr(args, "num_tokens", None), getattr(args, "camera_solver", None))


MIN_IMAGE_SIDE_PX = 8  # below this there is no image structure to recover a camera from


def read_image(path: Path, max_megapixels: float | None = None, limit_flag: str | None = None):
    """(H, W, 3) uint8 RGB, or an error naming the file (missing, unreadable, too small, too
    large); `limit_flag` is the command's option that raises the size limit, if it has one."""
    import numpy as np

    from ma_vlm.inputs import MAX_IMAGE_MEGAPIXELS, open_image

    image = open_image(path, max_megapixels or MAX_IMAGE_MEGAPIXELS, limit_flag=limit_flag)
    if min(image.size) < MIN_IMAGE_SIDE_PX:
        raise MaVlmInputError(f"image {path} is {image.width} x {image.height} px; the point-map model needs at "
                              f"least {MIN_IMAGE_SIDE_PX} px per side")
    return np.asarray(image.convert("RGB"))


def fields_of_view(intrinsics, width: int, height: int) -> dict:
    from ma_vlm.models.metric_anything_pointmap.camera_solver import fov_deg

    fx, fy, _, _ = intrinsics
    return {"fov_x_deg": fov_deg(fx, width), "fov_y_deg": fov_deg(fy, height)}


def run_depth_pointmap(args: argparse.Namespace) -> int:
    """`ma-vlm depth --model POINTMAP_DIR`: depth, colour map, cloud, points, mask and cam_in per image."""
    import numpy as np
    from tqdm import tqdm

    from ma_vlm.atomic_io import write_json_atomic
    from ma_vlm.visualize import save_depth_colormap, save_npy, save_point_cloud_ply

    if getattr(args, "prompt_depth", None) is not None:
        raise MaVlmInputError(f"{args.model} is a point-map model; --prompt-depth needs a teacher depth model")
    from ma_vlm.inputs import check_outputs_spare_inputs, ensure_output_dir

    output = Path(args.output)
    paths = [Path(p) for p in args.images]
    # the same guards as the depth model's path: never write over an input, never two results on one name
    suffixes = (".npy", ".png", ".ply", "_points.npy", "_mask.npy", ".json")
    sidecars = [p.with_suffix(".json") for p in paths if p.with_suffix(".json").exists()]
    check_outputs_spare_inputs([(output / f"{p.stem}{s}", p) for p in paths for s in suffixes], paths + sidecars)
    ensure_output_dir(output)
    estimator = estimator_from_args(args)
    for path in tqdm(paths, desc="point map", unit="image"):
        rgb = read_image(path, getattr(args, "max_megapixels", None), limit_flag="--max-megapixels")
        height, width = rgb.shape[:2]
        fov = args.assume_fov if getattr(args, "assume_fov", None) is not None else None
        prediction = estimator(rgb, fov_x_deg=fov, focal_length_px=getattr(args, "focal_length_px", None))
        fx = prediction.intrinsics[0]
        save_npy(prediction.depth_m, output / f"{path.stem}.npy")
        save_npy(prediction.points_m, output / f"{path.stem}_points.npy")
        save_npy(prediction.mask, output / f"{path.stem}_mask.npy")
        save_depth_colormap(np.where(prediction.mask, prediction.depth_m, np.nan), output / f"{path.stem}.png",
                            title=f"{path.name} (fx {fx:.1f} px, recovered)")
        save_point_cloud_ply(prediction.points_m[prediction.mask], rgb[prediction.mask], output / f"{path.stem}.ply")
        write_json_atomic(output / f"{path.stem}.json", {"cam_in": prediction.intrinsics,
                                                         **fields_of_view(prediction.intrinsics, width, height)})
    print(f"wrote {len(paths)} x (.npy depth m (0 = invalid), .png, .ply, _points.npy (H, W, 3) m, _mask.npy, "
          f".json cam_in) to {output}")
    return 0


class IntrinsicsFromPointMap:
    """`ma-vlm depth --intrinsics-model`: a focal length for images that have none, from the
    point-map model, announced on stdout."""

    def __init__(self, model_dir: str, device=None):
        from ma_vlm.pointmap.inference import PointMapEstimator

        self.estimator = PointMapEstimator(model_dir, device)

    def __call__(self, path: Path, image):
        import numpy as np

        from ma_vlm.geometry import Intrinsics

        rgb = np.asarray(image.convert("RGB"))
        fx, fy, cx, cy = self.estimator(rgb).intrinsics
        fov = fields_of_view((fx, fy, cx, cy), rgb.shape[1], rgb.shape[0])["fov_x_deg"]
        print(f"{path.name}: no focal length given; using the point-map model's estimate "
              f"fx = fy = {fx:.1f} px (horizontal FoV {fov:.1f}°)")
        return Intrinsics(fx, fy, cx, cy)
