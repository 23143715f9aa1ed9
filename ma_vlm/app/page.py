"""The page: shared inputs (photo, camera file, focal length), the models panel and the four tabs.

`build_page(state)` returns the Gradio Blocks; `serve(...)` launches it offline (no analytics,
no share link, no fonts or scripts from elsewhere: the theme uses the system's fonts). Every
handler goes through `page_errors`, so a failure is the project's one-line message in the page
(`gr.Error`) and the server goes on serving; requests are queued one at a time.
"""

from __future__ import annotations

import functools
import inspect
import logging
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from ma_vlm.app.models import ModelChoice, describe
from ma_vlm.app.outputs import RequestFolders
from ma_vlm.inputs import MAX_IMAGE_MEGAPIXELS

log = logging.getLogger("ma_vlm.app")
TITLE = "ma-vlm: metric depth, 3D points, camera, depth completion and spatial chat on your own photo"


@dataclass
class PageState:
    """What every handler reads: the models (`models.discover` + `models.load`), the folders
    requests write into, and the photo size limit."""

    models: dict[str, ModelChoice]
    folders: RequestFolders = field(default_factory=RequestFolders)
    max_megapixels: float = MAX_IMAGE_MEGAPIXELS


def _one_line(error: BaseException) -> str:
    from ma_vlm.errors import user_error_message

    message = user_error_message(error)
    if message is None:  # a bug: the traceback goes to the server's log, the page gets one line
        log.error("request failed:\n%s", "".join(traceback.format_exception(error)))
        message = f"internal error ({type(error).__name__}: {' '.join(str(error).split())[:200]}); the page goes on serving"
    return message


def page_errors(function):
    """Run a handler (function or generator); any failure becomes `gr.Error` with one line."""
    import gradio as gr

    if inspect.isgeneratorfunction(function):
        @functools.wraps(function)
        def streaming(*args, **kwargs):
            try:
                yield from function(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as error:
                raise gr.Error(_one_line(error), duration=None, print_exception=False) from None
        return streaming

    @functools.wraps(function)
    def handler(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as error:
            raise gr.Error(_one_line(error), duration=None, print_exception=False) from None
    return handler


def warm_up(state: PageState) -> None:
    """Run the Depth tab once on a small grey photo (imports, first-call costs of torch and
    matplotlib), so the first user does not wait for them; its files are removed."""
    import shutil
    import tempfile

    import numpy as np
    from PIL import Image

    from ma_vlm.app import depth_tab

    if state.models["depth"].loaded is None:
        return
    scratch = Path(tempfile.mkdtemp(prefix="ma-vlm-app-warm-up-"))
    try:
        Image.fromarray(np.full((48, 64, 3), 128, np.uint8)).save(scratch / "grey.png")
        depth_tab.run(PageState(state.models, RequestFolders(scratch / "out")), str(scratch / "grey.png"), None, "60")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _examples() -> list[list[str]]:
    """[photo, its cam_in .json] of every examples/*.png that has one (the package ships them)."""
    from ma_vlm.resources import shipped_path

    folder = shipped_path("examples")
    return [[str(png), str(png.with_suffix(".json"))] for png in sorted(Path(folder).glob("*.png"))
            if png.with_suffix(".json").is_file()]


def example_folder() -> Path:
    from ma_vlm.resources import shipped_path

    return Path(shipped_path("examples")).resolve()


def build_page(state: PageState):
    import gradio as gr

    from ma_vlm.app import camera_tab, chat_tab, completion_tab, depth_tab

    with gr.Blocks(title="ma-vlm", analytics_enabled=False, delete_cache=(3600, 3600)) as page:
        gr.Markdown(f"# {TITLE}")
        with gr.Accordion("Models this page runs", open=True):
            gr.Markdown(describe(state.models), elem_id="models")
        with gr.Row():
            photo = gr.File(label="Photo (PNG or JPEG)", type="filepath", elem_id="photo")
            camera_file = gr.File(label='Camera file (optional): .json {"cam_in": [fx, fy, cx, cy]}', type="filepath",
                                  elem_id="camera-file")
            focal = gr.Textbox(label="Focal length in pixels (optional; used when there is no camera file)",
                               placeholder="e.g. 721.5; empty: the camera file, else the point-map model's estimate",
                               elem_id="focal")
        gr.Markdown("Camera: the camera file, else the typed focal length, else the point-map model's estimate; "
                    "each result says which was used.")
        examples = _examples()
        if examples:
            gr.Examples(examples, inputs=[photo, camera_file], label="Examples (with their cameras)")
        shared = (photo, camera_file, focal)
        with gr.Tabs():
            depth_tab.build(state, *shared)
            camera_tab.build(state, photo, camera_file)
            completion_tab.build(state, *shared)
            chat_tab.build(state, *shared)
    return page


def offline_theme():
    """Gradio's default theme with the system's fonts: the stock one fetches fonts from a CDN."""
    import gradio as gr

    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                             font_mono=["ui-monospace", "Consolas", "monospace"])


def serve(page, host: str, port: int, block: bool = True, quiet: bool = False):
    """Launch `page` offline at host:port (queued, one request at a time); returns Gradio's
    (app, local_url, share_url) when `block` is False."""
    page.queue(default_concurrency_limit=1)
    return page.launch(server_name=host, server_port=port, share=False, prevent_thread_lock=not block,
                       quiet=quiet, show_error=True, ssr_mode=False, mcp_server=False, pwa=False,
                       allowed_paths=[str(example_folder())], theme=offline_theme(), footer_links=["api"],
                       max_file_size="200mb", enable_monitoring=False)
