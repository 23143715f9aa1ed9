"""Package names that load on first use, so importing a package costs no torch.

A package's `__init__` lists where each public name lives and hands the lookup to Python's module
`__getattr__` (PEP 562):

    __getattr__, __all__ = lazy_exports(__name__, {".modeling_x": ["XModel"], "ma_vlm.geometry": ["Intrinsics"]})

The first `package.XModel` (or `from package import XModel`) imports `.modeling_x`, caches the
value in the package and returns it; `before_first_use` (e.g. registering a model type with the
Auto classes) runs before each first lookup.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module


def lazy_exports(package: str, exports: dict[str, list[str]], before_first_use: Callable[[], None] | None = None):
    """(`__getattr__`, `__all__`) for `package`. exports: {module path (absolute, or relative to
    `package` with a leading dot): [names it defines]}."""
    home = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str):
        if name not in home:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if before_first_use is not None:
            before_first_use()
        value = getattr(import_module(home[name], package), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__, list(home)
