"""Files the package ships beside its code: the `recipes/` and `examples/` folders of the source tree.

In a checkout (and an editable install) they are read where they are. A built wheel carries a copy
under `ma_vlm/_data/` (see `setup.py`), read through `importlib.resources`, so `ma-vlm demo` and
the recipes it names work from an installed package in any working folder.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SHIPPED_FOLDERS = ("recipes", "examples")
_CHECKOUT_ROOT = Path(__file__).resolve().parent.parent


def shipped_path(relative: str | Path) -> Path:
    """`relative` (e.g. "recipes/demo/tiny.yaml") as a file the package ships, or, when it ships no
    such file, as the path it is (relative to the working folder). Absolute paths are returned as
    they are."""
    relative = Path(relative)
    if relative.is_absolute() or not relative.parts or relative.parts[0] not in SHIPPED_FOLDERS:
        return relative
    packaged = Path(str(resources.files("ma_vlm") / "_data" / relative))
    if packaged.exists():
        return packaged
    in_checkout = _CHECKOUT_ROOT / relative
    return in_checkout if in_checkout.exists() else relative
