"""Folders built once and kept across test runs (``MA_VLM_TEST_CACHE``, default
``~/.cache/ma-vlm-tests``). A file lock makes the first build safe when several pytest-xdist
workers ask for the same folder at once: one builds, the others wait and reuse it."""

import os
from pathlib import Path
from typing import Callable

from filelock import FileLock


def cache_root() -> Path:
    root = Path(os.environ.get("MA_VLM_TEST_CACHE", Path.home() / ".cache" / "ma-vlm-tests"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def cached_folder(name: str, build: Callable[[Path], None]) -> Path:
    """``cache_root() / name``, made by ``build(staging_folder)`` the first time (then renamed in
    place, so a half-built folder is never reused)."""
    folder = cache_root() / name
    with FileLock(str(folder) + ".lock"):
        if not folder.exists():
            staging = folder.with_name(f"{name}.tmp{os.getpid()}")
            build(staging)
            os.replace(staging, folder)
    return folder
