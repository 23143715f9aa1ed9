"""`ma-vlm app`: serve the page.

    ma-vlm app [--model DIR] [--pointmap DIR] [--teacher DIR] [--mllm DIR] [--host 127.0.0.1] [--port 7860]
"""

from __future__ import annotations

import argparse
import errno
import os
import socket

from ma_vlm.errors import MaVlmInputError
from ma_vlm.inputs import MAX_IMAGE_MEGAPIXELS


def register(subparsers) -> None:
    app = subparsers.add_parser("app", help="web page to try depth, 3D points, camera, completion and spatial chat "
                                "on your own photo (offline)")
    app.add_argument("--model", default=None, help="depth model folder (default: make pretrain-small's student, "
                     "else the demo's)")
    app.add_argument("--pointmap", default=None, help="Student-PointMap folder: the Camera tab, and cameras nobody "
                     "gave (default: the demo's)")
    app.add_argument("--teacher", default=None, help="teacher (prompt-based) depth model folder: the Completion tab "
                     "(default: make pretrain-small's, else the demo's)")
    app.add_argument("--mllm", default=None, help="spatial MLLM folder: the Spatial chat tab (default: the demo's)")
    app.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    app.add_argument("--port", type=int, default=7860, help="port to listen on")
    app.add_argument("--max-megapixels", type=float, default=MAX_IMAGE_MEGAPIXELS, help="refuse larger photos")
    app.add_argument("--device", default="cpu", help="cpu / cuda")
    app.set_defaults(func=run_app)


def check_address(host: str, port: int) -> None:
    """The page can listen on host:port, or one line saying why not (before any model loads)."""
    if not 1 <= port <= 65535:
        raise MaVlmInputError(f"--port {port}: give a port from 1 to 65535")
    try:
        address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as error:
        raise MaVlmInputError(f"--host {host}: not an address of this machine ({error.strerror})") from None
    with socket.socket(address[0], socket.SOCK_STREAM) as probe:
        try:
            probe.bind(address[4])
        except OSError as error:
            reason = "is in use; choose another --port" if error.errno == errno.EADDRINUSE else f"cannot be used ({error.strerror})"
            raise MaVlmInputError(f"--host {host} --port {port} {reason}") from None


def start_page(flags: dict, max_megapixels: float = MAX_IMAGE_MEGAPIXELS, device: str = "cpu", root: str = "."):
    """The built page and its state, with the models of `flags` (role -> folder or None)."""
    from pathlib import Path

    from ma_vlm.app.models import discover, load
    from ma_vlm.app.page import PageState, build_page, warm_up

    models = discover(flags, Path(root))
    load(models, device)
    state = PageState(models, max_megapixels=max_megapixels)
    warm_up(state)
    return build_page(state), state


def run_app(args: argparse.Namespace) -> int:
    check_address(args.host, args.port)
    if not args.max_megapixels > 0:
        raise MaVlmInputError(f"--max-megapixels {args.max_megapixels}: give a positive number")
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # this process only serves the page
    try:
        import gradio  # noqa: F401
    except ModuleNotFoundError:
        raise MaVlmInputError("ma-vlm app needs Gradio: install the [app] extra (uv pip install -e '.[app]', or make "
                              "setup)") from None
    from ma_vlm.app.page import serve

    flags = {"depth": args.model, "pointmap": args.pointmap, "teacher": args.teacher, "mllm": args.mllm}
    page, state = start_page(flags, args.max_megapixels, args.device)
    for choice in state.models.values():
        status = (f"{choice.origin}" if choice.loaded is not None
                  else choice.problem or f"none (run `{choice.role.make}`)")
        print(f"{choice.role.name:9} {status}")
    print(f"serving on http://{args.host}:{args.port} (Ctrl-C stops)")
    serve(page, args.host, args.port, block=True)
    return 0
