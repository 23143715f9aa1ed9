"""Several views of one rendered scene with known poses and intrinsics, as a plain folder:
`<view>.png`, `<view>_depth.png` (uint16 millimetres, 0 = invalid), `<view>.json` ({"cam_in"}) and
`poses.json` ({view: camera-to-world 4 x 4, OpenCV axes}). It is the folder format `ma-vlm eval`
reads, and the input of `ma-vlm reconstruct --poses`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np


def orbit_positions(position_m, target_m, num_views: int, arc_deg: float = 30.0) -> list[np.ndarray]:
    """Camera positions on a horizontal arc of `arc_deg` around `target_m`, centred on `position_m`."""
    position, target = np.asarray(position_m, float), np.asarray(target_m, float)
    offset = position - target
    angles = np.radians(np.linspace(-arc_deg / 2, arc_deg / 2, num_views)) if num_views > 1 else [0.0]
    positions = []
    for angle in angles:
        c, s = np.cos(angle), np.sin(angle)
        rotated = np.array([c * offset[0] - s * offset[1], s * offset[0] + c * offset[1], offset[2]])
        positions.append(target + rotated)
    return positions


def render_multiview(output_dir: str | Path, num_views: int = 4, seed: int = 0, layout: str = "room",
                     width_px: int = 160, height_px: int = 120, fov_deg: float = 70.0,
                     arc_deg: float = 30.0) -> list[str]:
    """Render `num_views` views of one scene into `output_dir`; returns the view names."""
    from PIL import Image

    from ma_vlm.atomic_io import atomic_path, write_json_atomic
    from ma_vlm.data.cameras import CameraModel
    from ma_vlm.data.render import render_scene
    from ma_vlm.data.scenes import sample_scene

    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    spec = sample_scene(layout, np.random.default_rng(seed), f"multiview-{seed}")
    camera = CameraModel(-1, width_px, height_px, width_px / 2 / np.tan(np.radians(fov_deg) / 2))
    poses, names = {}, []
    for index, position in enumerate(orbit_positions(spec.camera_position_m, spec.camera_target_m, num_views,
                                                     arc_deg)):
        name = f"view{index}"
        record = render_scene(replace(spec, camera_position_m=position), camera)
        with atomic_path(output / f"{name}.png") as tmp:
            Image.fromarray(record["image"]).save(tmp, format="png")
        millimetres = np.clip(np.round(record["depth"] * 1000), 0, 65535).astype(np.uint16)
        with atomic_path(output / f"{name}_depth.png") as tmp:
            Image.fromarray(millimetres).save(tmp, format="png")
        write_json_atomic(output / f"{name}.json", {"cam_in": [float(v) for v in record["intrinsics"]]})
        poses[name] = np.asarray(record["camera_to_world"]).tolist()
        names.append(name)
    write_json_atomic(output / "poses.json", poses)
    return names
