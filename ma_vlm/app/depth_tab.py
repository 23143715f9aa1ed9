"""Depth tab (api_name "depth"): metric depth of the photo, as `ma-vlm depth` computes it.

Outputs: the colour map with its scale bar in metres, a min/median/max table, the downloads
(<stem>.npy metres, <stem>.ply coloured cloud, <stem>_camera.json) and the 3D view (.glb:
metres, camera at the origin).
"""

from __future__ import annotations

from ma_vlm.app.inputs import Camera, Photo, read_photo, resolve_camera
from ma_vlm.app.outputs import depth_table, write_point_cloud_glb


def predict_depth(state, photo: Photo, camera: Camera):
    """(H, W) float32 metres: `ma-vlm depth`'s call (the model's processor, fx of the camera)."""
    import numpy as np

    from ma_vlm.depth import predict_metric_depth
    from ma_vlm.errors import MaVlmInputError

    depth_model = state.models["depth"].require()
    depth_m = predict_metric_depth(depth_model.model, depth_model.processor, photo.image, camera.intrinsics.fx)
    if not np.isfinite(depth_m).all():
        raise MaVlmInputError(f"the depth model predicted non-finite depth for {photo.name}; its weights or this "
                              "photo are broken")
    return depth_m


def camera_record(camera: Camera, width: int, height: int) -> dict:
    """The camera .json: cam_in [fx, fy, cx, cy] pixels, fields of view, and where it came from."""
    from ma_vlm.pointmap.image_outputs import fields_of_view

    cam_in = camera.intrinsics.as_list()
    return {"cam_in": cam_in, **fields_of_view(cam_in, width, height), "width": width, "height": height,
            "source": camera.source}


def run(state, photo_path, camera_path, focal_length_px):
    """The Depth tab's handler: (colour map .png, table rows, [.npy, .ply, .json], .glb, camera line)."""
    from ma_vlm.atomic_io import write_json_atomic
    from ma_vlm.geometry import backproject
    from ma_vlm.visualize import save_depth_colormap, save_npy, save_point_cloud_ply

    state.models["depth"].require()  # no model: say so before anything about the photo
    photo = read_photo(photo_path, state.max_megapixels)
    camera = resolve_camera(photo, camera_path, focal_length_px, state.models["pointmap"])
    depth_m = predict_depth(state, photo, camera)
    out = state.folders.new()
    width, height = photo.size
    save_depth_colormap(depth_m, out / f"{photo.stem}_depth.png", title=f"{photo.name} (fx {camera.intrinsics.fx:.1f} px)")
    save_npy(depth_m, out / f"{photo.stem}.npy")
    points_m = backproject(depth_m, camera.intrinsics)
    save_point_cloud_ply(points_m, photo.rgb, out / f"{photo.stem}.ply")
    write_json_atomic(out / f"{photo.stem}_camera.json", camera_record(camera, width, height))
    count = write_point_cloud_glb(points_m, photo.rgb, out / f"{photo.stem}.glb")
    downloads = [str(out / f"{photo.stem}{suffix}") for suffix in (".npy", ".ply", "_camera.json")]
    line = (f"**Camera:** {camera.source}: fx {camera.intrinsics.fx:.1f}, fy {camera.intrinsics.fy:.1f}, "
            f"cx {camera.intrinsics.cx:.1f}, cy {camera.intrinsics.cy:.1f} px. 3D view: {count:,} points in metres, "
            "camera at the origin looking into the scene.")
    return str(out / f"{photo.stem}_depth.png"), depth_table(depth_m), downloads, str(out / f"{photo.stem}.glb"), line


def build(state, photo, camera_file, focal):
    import gradio as gr

    from ma_vlm.app.page import page_errors

    with gr.Tab("Depth", id="depth"):
        button = gr.Button("Run depth", variant="primary", elem_id="run-depth")
        camera_line = gr.Markdown(elem_id="depth-camera")
        with gr.Row():
            colour_map = gr.Image(label="Metric depth (scale bar in metres)", type="filepath", elem_id="depth-map",
                                  format="png")
            view = gr.Model3D(label="3D view (metres, camera at the origin)", display_mode="point_cloud",
                              clear_color=(1.0, 1.0, 1.0, 1.0), elem_id="depth-3d")
        with gr.Row():
            table = gr.Dataframe(headers=["statistic", "value"], label="Depth", interactive=False, elem_id="depth-table")
            downloads = gr.File(label="Downloads: depth .npy (metres), point cloud .ply, camera .json",
                                file_count="multiple", elem_id="depth-downloads")
        button.click(page_errors(lambda *inputs: run(state, *inputs)), inputs=[photo, camera_file, focal],
                     outputs=[colour_map, table, downloads, view, camera_line], api_name="depth")
