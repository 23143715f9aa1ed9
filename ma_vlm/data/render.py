"""Offscreen MuJoCo rendering of a ``SceneSpec`` into an ``RGBDRecord``.

RGB, metric z-depth and per-object instance masks come from three passes of one
``mujoco.Renderer``. Shadows are off (3-30x faster on the CPU). Pixels whose depth reaches the
far plane (sky in street scenes) are invalid: depth 0.
"""

from __future__ import annotations

import os

import numpy as np

from ma_vlm.data.cameras import CameraModel
from ma_vlm.data.scenes import SceneSpec, look_at_xyaxes, scene_to_mjcf
from ma_vlm.data.schema import Instance, RGBDRecord

# Offscreen rendering on a machine without a display; must be set before mujoco is imported.
os.environ.setdefault("MUJOCO_GL", "egl")

MJ_OBJ_GEOM = 5  # mujoco.mjtObj.mjOBJ_GEOM


def camera_to_world_opencv(position_m: np.ndarray, target_m: np.ndarray) -> np.ndarray:
    """(4, 4) pose of the camera in the world with OpenCV axes (x right, y down, z forward)."""
    right, up = look_at_xyaxes(position_m, target_m)  # MuJoCo camera x and y; it looks along -z
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1] = right, -up
    pose[:3, 2] = np.cross(right, -up)  # forward, the optical axis
    pose[:3, 3] = position_m
    return pose


class SceneRenderer:
    """Renders many scenes with one OpenGL context (creating a context costs ~0.2 s, a scene
    ~10-30 ms). Use one per process, as a context manager or ``close()`` it."""

    def __init__(self, max_width_px: int = 2048, max_height_px: int = 2048):
        from mujoco import gl_context

        self._context = gl_context.GLContext(max_width_px, max_height_px)
        self._context.make_current()

    def close(self) -> None:
        if self._context is not None:
            self._context.free()
            self._context = None

    def __enter__(self) -> "SceneRenderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def render_passes(self, model, camera_name: str = "view"):
        """RGB (H, W, 3) uint8, metric z-depth (H, W) float32 and per-pixel geom id (H, W)
        int32 (-1 = no geom) of ``model``'s camera, at the model's offscreen size."""
        import mujoco

        self._context.make_current()
        width, height = model.vis.global_.offwidth, model.vis.global_.offheight
        data = mujoco.MjData(model)
        mujoco.mj_forward(model, data)
        mjr = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_100)
        try:
            mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, mjr)
            scene = mujoco.MjvScene(model, maxgeom=max(1000, 2 * model.ngeom))
            camera = mujoco.MjvCamera()
            camera.type = mujoco.mjtCamera.mjCAMERA_FIXED
            camera.fixedcamid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera_name)
            mujoco.mjv_updateScene(model, data, mujoco.MjvOption(), None, camera,
                                   mujoco.mjtCatBit.mjCAT_ALL, scene)
            viewport = mujoco.MjrRect(0, 0, width, height)
            image = np.empty((height, width, 3), np.uint8)
            depth_buffer = np.empty((height, width), np.float32)
            mujoco.mjr_render(viewport, scene, mjr)
            mujoco.mjr_readPixels(image, depth_buffer, viewport, mjr)
            # Segmentation pass: each geom drawn in a flat colour encoding its segid + 1.
            scene.flags[mujoco.mjtRndFlag.mjRND_SEGMENT] = 1
            scene.flags[mujoco.mjtRndFlag.mjRND_IDCOLOR] = 1
            ids = np.empty((height, width, 3), np.uint8)
            mujoco.mjr_render(viewport, scene, mjr)
            mujoco.mjr_readPixels(ids, None, viewport, mjr)
            segid_to_geom = np.full(scene.ngeom + 1, -1, np.int32)
            for i in range(scene.ngeom):
                geom = scene.geoms[i]
                if geom.segid >= 0 and geom.objtype == MJ_OBJ_GEOM:
                    segid_to_geom[geom.segid + 1] = geom.objid
        finally:
            mjr.free()
        seg = ids[..., 0].astype(np.int64) + (ids[..., 1].astype(np.int64) << 8) + (
            ids[..., 2].astype(np.int64) << 16)
        geom_ids = segid_to_geom[np.clip(seg, 0, scene.ngeom)]
        # OpenGL's depth buffer is non-linear in [0, 1]; this inverts the perspective projection.
        extent = model.stat.extent
        near, far = model.vis.map.znear * extent, model.vis.map.zfar * extent
        depth = near / (1.0 - depth_buffer * (1.0 - near / far))
        return image[::-1].copy(), depth[::-1].astype(np.float32), geom_ids[::-1].copy()

    def render(self, spec: SceneSpec, camera: CameraModel) -> RGBDRecord:
        """Render ``spec`` through ``camera``: see ``render_scene``."""
        return _render_with(self, spec, camera)


_PROCESS_RENDERER: SceneRenderer | None = None


def render_scene(spec: SceneSpec, camera: CameraModel) -> RGBDRecord:
    """Render ``spec`` through ``camera`` (one shared OpenGL context per process).

    Returns an ``RGBDRecord``: image (H, W, 3) uint8, depth (H, W) float32 metric z-depth
    (0 = nothing before the far plane), instance_mask (H, W) int32 (object i -> i + 1),
    instances with 3D boxes in the OpenCV camera frame, camera_to_world (4, 4).
    """
    global _PROCESS_RENDERER
    if _PROCESS_RENDERER is None:
        import atexit

        _PROCESS_RENDERER = SceneRenderer()
        atexit.register(_PROCESS_RENDERER.close)
    return _PROCESS_RENDERER.render(spec, camera)


def _render_with(renderer: SceneRenderer, spec: SceneSpec, camera: CameraModel) -> RGBDRecord:
    import mujoco

    render_width, render_height = camera.render_size_px
    model = mujoco.MjModel.from_xml_string(scene_to_mjcf(spec, render_width, render_height, camera.fovy_deg))
    model.light_castshadow[:] = 0
    image, depth, geom_ids = renderer.render_passes(model)
    # Keep the (possibly off-centre) image window: this is what moves the principal point.
    x0, y0 = camera.crop_origin_px
    window = (slice(y0, y0 + camera.height_px), slice(x0, x0 + camera.width_px))
    image, depth, geom_ids = image[window], depth[window], geom_ids[window]
    # A pixel has depth only where a geom was hit (not the sky, not beyond the far plane).
    nothing_hit = (geom_ids < 0) | (depth >= 0.999 * spec.far_m)
    geom_ids[nothing_hit] = -1
    depth[nothing_hit] = 0.0

    # geom id -> instance id (object i is body "obj{i}" -> instance i + 1; background -> 0)
    geom_to_instance = np.zeros(model.ngeom + 1, np.int32)
    for i in range(len(spec.objects)):
        body_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, f"obj{i}")
        geom_to_instance[:-1][model.geom_bodyid == body_id] = i + 1
    instance_mask = geom_to_instance[geom_ids]  # -1 indexes the trailing 0
    instance_mask[depth == 0] = 0

    pose = camera_to_world_opencv(spec.camera_position_m, spec.camera_target_m)
    world_to_camera = np.linalg.inv(pose)
    instances = []
    for i, obj in enumerate(spec.objects):
        pixel_count = int((instance_mask == i + 1).sum())
        if pixel_count == 0:
            continue
        local_centre, size = obj.local_box()
        c, s = np.cos(obj.yaw_rad), np.sin(obj.yaw_rad)
        rotation = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
        centre_world = rotation @ local_centre + np.array(obj.position_m)
        centre_camera = world_to_camera[:3, :3] @ centre_world + world_to_camera[:3, 3]
        instances.append(Instance(
            instance_id=i + 1, category=obj.category, color=obj.color,
            center_m=[float(v) for v in centre_camera],
            # [object x extent, vertical extent, object y extent]: "width, height, depth"
            size_m=[float(size[0]), float(size[2]), float(size[1])],
            yaw_rad=float(obj.yaw_rad), pixel_count=pixel_count,
        ))
    return RGBDRecord(
        image=image, depth=depth, intrinsics=camera.intrinsics, source="render",
        instances=instances, instance_mask=instance_mask.astype(np.int32),
        camera_to_world=pose, scene_id=spec.scene_id, camera_model_id=camera.camera_model_id,
    )
