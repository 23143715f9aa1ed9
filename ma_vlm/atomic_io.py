"""Files appear whole or not at all: write to a temporary file beside the target, then
`os.replace` it into place, so an interrupted run never leaves a half-written result.

Folders that stand for finished work (a rendered dataset, an imported one, a conversion, a
SynthSpatial build) get a completion marker, `complete.json`, written last and atomically: a
folder without it is an interrupted run's leftovers and is never read as finished (`is_complete`).

`mkstemp`/`mkdtemp` create 0600 files and 0700 folders; results get the user's umask instead
(`apply_umask`), like any file the user's shell would create.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

COMPLETE_MARKER = "complete.json"


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it; put it straight back
    os.umask(mask)
    return mask


def apply_umask(path: str | os.PathLike) -> None:
    """Give `path` the mode a plain `open`/`mkdir` would: 0666 (files) or 0777 (folders) & ~umask."""
    base = 0o777 if os.path.isdir(path) else 0o666
    os.chmod(path, base & ~_umask())


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yields a temporary path beside `path`; on success it replaces `path`, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        yield Path(tmp)
        apply_umask(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | os.PathLike, payload) -> None:
    write_text_atomic(path, json.dumps(payload, indent=2) + "\n")


def mark_complete(folder: str | os.PathLike, kind: str, **details) -> None:
    """Write `folder/complete.json` (`{"kind": kind, "files": [...], **details}`): call it after
    the last file of `folder` is in place. `files` lists every file then present (relative paths),
    so a later `--overwrite` knows which files are ours."""
    folder = Path(folder)
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != COMPLETE_MARKER)
    write_json_atomic(folder / COMPLETE_MARKER, {"kind": kind, "files": files, **details})


def read_complete_marker(folder: str | os.PathLike) -> dict | None:
    """The completion marker of `folder`, or None when the work it stands for never finished."""
    marker = Path(folder) / COMPLETE_MARKER
    try:
        payload = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def is_complete(folder: str | os.PathLike, kind: str | None = None) -> bool:
    marker = read_complete_marker(folder)
    return marker is not None and (kind is None or marker.get("kind") == kind)
