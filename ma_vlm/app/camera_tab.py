"""Camera tab (api_name "intrinsics"): the point-map model's camera for the photo, as
`ma-vlm intrinsics` gives it (fx, fy, cx, cy, fields of view), with the recovered point cloud;
where a camera file gives the true camera, the errors too."""

from __future__ import annotations

from ma_vlm.app.inputs import read_photo, read_sidecar
from ma_vlm.app.outputs import write_point_cloud_glb


def camera_rows(estimated: list[float], width: int, height: int, truth=None) -> list[list[str]]:
    """[[quantity, estimate, truth, error]] rows; truth: the camera file's `Intrinsics` or None."""
    from ma_vlm.pointmap.image_outputs import fields_of_view

    fov = fields_of_view(estimated, width, height)
    true_fov = fields_of_view(truth.as_list(), width, height) if truth is not None else None
    rows = []
    for index, name in enumerate(("fx (px)", "fy (px)", "cx (px)", "cy (px)")):
        value = estimated[index]
        if truth is None:
            rows.append([name, f"{value:.1f}", "", ""])
            continue
        true = truth.as_list()[index]
        error = f"{100 * (value - true) / true:+.1f} %" if index < 2 else f"{value - true:+.1f} px"
        rows.append([name, f"{value:.1f}", f"{true:.1f}", error])
    for key, name in (("fov_x_deg", "horizontal FoV (deg)"), ("fov_y_deg", "vertical FoV (deg)")):
        if true_fov is None:
            rows.append([name, f"{fov[key]:.1f}", "", ""])
        else:
            rows.append([name, f"{fov[key]:.1f}", f"{true_fov[key]:.1f}", f"{fov[key] - true_fov[key]:+.1f} deg"])
    return rows


def run(state, photo_path, camera_path):
    """(table rows, .glb of the recovered points, camera .json, one line)."""
    from ma_vlm.atomic_io import write_json_atomic
    from ma_vlm.pointmap.image_outputs import fields_of_view

    estimator = state.models["pointmap"].require()
    photo = read_photo(photo_path, state.max_megapixels)
    truth = read_sidecar(camera_path, photo)
    prediction = estimator(photo.rgb)
    width, height = photo.size
    out = state.folders.new()
    count = write_point_cloud_glb(prediction.points_m[prediction.mask], photo.rgb[prediction.mask],
                                  out / f"{photo.stem}_points.glb")
    write_json_atomic(out / f"{photo.stem}_estimated_camera.json",
                      {"cam_in": prediction.intrinsics, **fields_of_view(prediction.intrinsics, width, height)})
    line = (f"Estimated by the point-map model from {photo.name} ({width} x {height} px); "
            + ("errors against the camera file." if truth is not None else "upload the camera file to see the errors.")
            + f" 3D view: {count:,} recovered points in metres, camera at the origin.")
    return (camera_rows(prediction.intrinsics, width, height, truth), str(out / f"{photo.stem}_points.glb"),
            str(out / f"{photo.stem}_estimated_camera.json"), line)


def build(state, photo, camera_file):
    import gradio as gr

    from ma_vlm.app.page import page_errors

    with gr.Tab("Camera", id="camera"):
        button = gr.Button("Estimate the camera", variant="primary", elem_id="run-intrinsics")
        line = gr.Markdown(elem_id="intrinsics-line")
        with gr.Row():
            table = gr.Dataframe(headers=["quantity", "estimate", "camera file", "error"], interactive=False,
                                 label="Intrinsics", elem_id="intrinsics-table")
            view = gr.Model3D(label="Recovered point cloud (metres, camera at the origin)", display_mode="point_cloud",
                              clear_color=(1.0, 1.0, 1.0, 1.0), elem_id="intrinsics-3d")
        download = gr.File(label="Estimated camera .json (cam_in)", elem_id="intrinsics-download")
        button.click(page_errors(lambda *inputs: run(state, *inputs)), inputs=[photo, camera_file],
                     outputs=[table, view, download, line], api_name="intrinsics")
