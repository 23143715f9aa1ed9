"""Spatial chat tab (api_name "chat"): `ma-vlm chat`'s model answers a question about the photo,
token by token, with the photo's camera handed to its tower."""

from __future__ import annotations

from ma_vlm.app.inputs import read_photo, resolve_camera

# One question of each SynthSpatial question type (ma_vlm.benchmarks.spatial.synthspatial.questions),
# as its generator words them, about objects a photo of a room is likely to hold.
EXAMPLE_QUESTIONS = {
    "object_camera_distance": "How far is the centre of the chair from the camera (in meters)?",
    "object_abs_distance": "What is the distance between the centres of the chair and the table (in meters)?",
    "object_size_estimation": "What is the length of the longest dimension (length, width, or height) of the table, "
                              "measured in centimeters?",
    "object_counting": "How many chairs are in the image?",
    "object_depth_order": "Which object is closer to the camera, the chair or the table?",
    "object_rel_distance": "Measuring between object centres, which of these objects (chair, lamp, sofa) is the "
                           "closest to the table?",
    "object_rel_direction_easy": "If I am standing by the sofa and facing the table, is the chair to my left or the "
                                 "right?",
}
MAX_NEW_TOKENS = 64


def run(state, photo_path, camera_path, focal_length_px, question, max_new_tokens=MAX_NEW_TOKENS):
    """Yields (the answer so far, camera line)."""
    from ma_vlm.mllm.chat import chat_inputs, stream_answer

    model, processor = state.models["mllm"].require()
    photo = read_photo(photo_path, state.max_megapixels)
    camera = resolve_camera(photo, camera_path, focal_length_px, state.models["pointmap"])
    inputs = chat_inputs(processor, [photo.image.convert("RGB")], question or "", [camera.intrinsics.as_list()])
    line = f"**Camera given to the model:** {camera.source}."
    yield "", line
    for text in stream_answer(model, processor, inputs, int(max_new_tokens or MAX_NEW_TOKENS)):
        yield text, line


def build(state, photo, camera_file, focal):
    import gradio as gr

    from ma_vlm.app.page import page_errors

    with gr.Tab("Spatial chat", id="chat"):
        question = gr.Textbox(label="Question about the photo", value=EXAMPLE_QUESTIONS["object_camera_distance"],
                              elem_id="question")
        gr.Examples([[text] for text in EXAMPLE_QUESTIONS.values()], inputs=[question],
                    label="SynthSpatial question types")
        max_new_tokens = gr.Slider(1, 256, value=MAX_NEW_TOKENS, step=1, label="Max new tokens")
        button = gr.Button("Ask", variant="primary", elem_id="run-chat")
        line = gr.Markdown(elem_id="chat-camera")
        answer = gr.Textbox(label="Answer (streamed token by token)", interactive=False, elem_id="answer")
        button.click(page_errors(lambda *inputs: (yield from run(state, *inputs))),
                     inputs=[photo, camera_file, focal, question, max_new_tokens], outputs=[answer, line],
                     api_name="chat")
