"""Completion tab (api_name "complete"): the teacher's dense depth from a sparse metric prompt,
beside Delaunay-linear interpolation of the same prompt (`baseline:linear`), with both AbsRel
values where the true depth is given.

The prompt is an uploaded sparse depth (.npy metres or 16-bit .png millimetres, 0 = missing, at
the photo's size), or is sampled from the uploaded depth map with a prompt spec (the samplers of
`ma_vlm.data.sparse_prompts`, seeded); the depth map is then also the truth that AbsRel is
measured against.
"""

from __future__ import annotations

import numpy as np

from ma_vlm.app.inputs import read_depth_map, read_photo, resolve_camera
from ma_vlm.errors import MaVlmInputError

PROMPT_SPECS = ("uniform:0.001", "grid:16", "lidar:64", "lowres:8")


def make_prompt(sparse: np.ndarray | None, truth: np.ndarray | None, spec: str | None, seed: int) -> tuple[np.ndarray, str]:
    """(prompt (H, W) metres 0 = missing, how it was made): the upload, else sampled from `truth`."""
    from ma_vlm.data.sparse_prompts import NoPrompt, parse_prompt_spec

    if sparse is not None:
        prompt, made = sparse, "uploaded sparse depth"
    elif truth is not None:
        sampler = parse_prompt_spec(spec or PROMPT_SPECS[0])
        if isinstance(sampler, NoPrompt):
            raise MaVlmInputError("prompt spec none gives no prompt; choose one of " + ", ".join(PROMPT_SPECS))
        prompt, made = sampler(truth, int(seed)), f"{spec or PROMPT_SPECS[0]} sampled from the depth map (seed {int(seed)})"
    else:
        raise MaVlmInputError("no prompt: upload sparse depth (.npy metres or 16-bit .png millimetres, 0 = missing), "
                              "or a depth map to sample one from with the prompt spec")
    count = int(np.count_nonzero(prompt > 0))
    if count == 0:
        raise MaVlmInputError("the prompt is empty (every pixel 0): give sparse depth with some points > 0 metres")
    return prompt, f"{made}: {count:,} points ({100 * count / prompt.size:.2f} % of the pixels)"


def abs_rel(predicted_m: np.ndarray, truth: np.ndarray | None) -> str:
    from ma_vlm.benchmarks.depth.metrics import depth_metrics

    if truth is None:
        return "no truth given"
    metrics = depth_metrics(predicted_m, truth)
    return "no valid truth pixel" if metrics is None else f"{metrics['abs_rel']:.4f}"


def run(state, photo_path, camera_path, focal_length_px, sparse_path, depth_path, spec, seed):
    """(teacher .png, interpolation .png, table rows, [.npy files], one line)."""
    from ma_vlm.benchmarks.depth.baselines import InterpolationBaseline
    from ma_vlm.depth import predict_metric_depth
    from ma_vlm.visualize import save_depth_colormap, save_npy

    teacher = state.models["teacher"].require()
    photo = read_photo(photo_path, state.max_megapixels)
    sparse = read_depth_map(sparse_path, photo, "sparse depth")
    truth = read_depth_map(depth_path, photo, "depth map")
    prompt, made = make_prompt(sparse, truth, spec, 0 if seed is None else seed)
    camera = resolve_camera(photo, camera_path, focal_length_px, state.models["pointmap"])
    dense_m = predict_metric_depth(teacher.model, teacher.processor, photo.image, camera.intrinsics.fx,
                                   prompt_depth=prompt)
    if not np.isfinite(dense_m).all():
        raise MaVlmInputError(f"the teacher predicted non-finite depth for {photo.name}; its weights are broken")
    interpolated_m = InterpolationBaseline("linear")(photo.rgb, camera.intrinsics.as_list(), prompt)
    out = state.folders.new()
    names = {"teacher": f"{photo.stem}_teacher", "interpolation": f"{photo.stem}_linear", "prompt": f"{photo.stem}_prompt"}
    for key, depth in (("teacher", dense_m), ("interpolation", interpolated_m), ("prompt", prompt)):
        save_npy(depth, out / f"{names[key]}.npy")
    save_depth_colormap(dense_m, out / f"{names['teacher']}.png", title="teacher (image + prompt)")
    save_depth_colormap(interpolated_m, out / f"{names['interpolation']}.png", title="Delaunay-linear interpolation")
    table = [["teacher", abs_rel(dense_m, truth), f"{np.median(dense_m):.3f}"],
             ["Delaunay-linear interpolation", abs_rel(interpolated_m, truth), f"{np.median(interpolated_m):.3f}"]]
    line = f"**Prompt:** {made}. **Camera:** {camera.source}."
    return (str(out / f"{names['teacher']}.png"), str(out / f"{names['interpolation']}.png"), table,
            [str(out / f"{name}.npy") for name in names.values()], line)


def build(state, photo, camera_file, focal):
    import gradio as gr

    from ma_vlm.app.page import page_errors

    with gr.Tab("Completion", id="completion"):
        with gr.Row():
            sparse = gr.File(label="Sparse depth (.npy metres or 16-bit .png mm, 0 = missing)", elem_id="sparse")
            depth = gr.File(label="Depth map to sample a prompt from and to score against (.npy m / .png mm)",
                            elem_id="truth")
            spec = gr.Dropdown(list(PROMPT_SPECS), value=PROMPT_SPECS[0], allow_custom_value=True,
                               label="Prompt spec (used when no sparse depth is uploaded)", elem_id="spec")
            seed = gr.Number(value=0, precision=0, label="Seed", elem_id="seed")
        button = gr.Button("Complete the depth", variant="primary", elem_id="run-complete")
        line = gr.Markdown(elem_id="complete-line")
        with gr.Row():
            teacher = gr.Image(label="Teacher (metres)", type="filepath", format="png", elem_id="complete-teacher")
            linear = gr.Image(label="Delaunay-linear interpolation (metres)", type="filepath", format="png",
                              elem_id="complete-linear")
        table = gr.Dataframe(headers=["method", "AbsRel", "median depth (m)"], interactive=False, elem_id="complete-table")
        downloads = gr.File(label="Downloads: teacher, interpolation and prompt .npy (metres)", file_count="multiple")
        button.click(page_errors(lambda *inputs: run(state, *inputs)),
                     inputs=[photo, camera_file, focal, sparse, depth, spec, seed],
                     outputs=[teacher, linear, table, downloads, line], api_name="complete")
