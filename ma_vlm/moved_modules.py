"""Import paths that moved, kept as aliases for one release (0.1 -> 0.2), each with a DeprecationWarning.

`ma_vlm.encoders.<module>` and `ma_vlm.intrinsics_recovery` became the model folders
`ma_vlm.models.metric_anything` and `ma_vlm.models.metric_anything_pointmap` and the tool folder
`ma_vlm.depth`. `import ma_vlm` installs one finder: an old module name gives the new module
itself (the same objects), and the old package `ma_vlm.encoders` gives its public names from the
new packages. Saved folders are unaffected: their `model_type`s and class names did not change.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types
import warnings
from importlib import import_module

MOVED_MODULES = {
    "ma_vlm.encoders.configuration_metric_anything_pointmap": "ma_vlm.models.metric_anything_pointmap.configuration_metric_anything_pointmap",
    "ma_vlm.encoders.modeling_metric_anything_pointmap": "ma_vlm.models.metric_anything_pointmap.modeling_metric_anything_pointmap",
    "ma_vlm.encoders.image_processing_metric_anything_pointmap": "ma_vlm.models.metric_anything_pointmap.image_processing_metric_anything_pointmap",
    "ma_vlm.encoders.presets_pointmap": "ma_vlm.models.metric_anything_pointmap.presets",
    "ma_vlm.encoders.pointmap_layers": "ma_vlm.models.metric_anything_pointmap.layers",
    "ma_vlm.encoders.convert_pointmap": "ma_vlm.models.metric_anything_pointmap.convert",
    "ma_vlm.intrinsics_recovery": "ma_vlm.models.metric_anything_pointmap.camera_solver",
    "ma_vlm.encoders.configuration_metric_anything_vit": "ma_vlm.models.metric_anything.configuration_metric_anything_vit",
    "ma_vlm.encoders.configuration_metric_anything": "ma_vlm.models.metric_anything.configuration_metric_anything",
    "ma_vlm.encoders.modeling_metric_anything": "ma_vlm.models.metric_anything.modeling_metric_anything",
    "ma_vlm.encoders.image_processing_metric_anything": "ma_vlm.models.metric_anything.image_processing_metric_anything",
    "ma_vlm.encoders.presets": "ma_vlm.models.metric_anything.presets",
    "ma_vlm.encoders.convert_official": "ma_vlm.models.metric_anything.convert",
    "ma_vlm.encoders.decoder_metric_anything": "ma_vlm.models.metric_anything.decoder",
    "ma_vlm.encoders.pyramid": "ma_vlm.models.metric_anything.pyramid",
    "ma_vlm.encoders.prompt_fusion": "ma_vlm.models.metric_anything.prompt_fusion",
    "ma_vlm.encoders.depth_units": "ma_vlm.models.metric_anything.depth_units",
    "ma_vlm.encoders.vit_inference": "ma_vlm.models.metric_anything.vit_inference",
    "ma_vlm.encoders.model_card": "ma_vlm.models.metric_anything.model_card",
    "ma_vlm.encoders.cpu_heap": "ma_vlm.models.cpu_heap",
    "ma_vlm.encoders.cli": "ma_vlm.depth.cli",
    "ma_vlm.encoders.inference": "ma_vlm.depth.inference",
}
# old package -> the packages its public names now come from
MOVED_PACKAGES = {
    "ma_vlm.encoders": ("ma_vlm.models.metric_anything", "ma_vlm.models.metric_anything_pointmap", "ma_vlm.depth"),
}


def _warn(old: str, new: str) -> None:
    warnings.warn(f"{old} moved to {new}; the old path goes in the next release", DeprecationWarning, stacklevel=3)


def _package_alias(name: str) -> types.ModuleType:
    homes = MOVED_PACKAGES[name]
    module = types.ModuleType(name, f"Deprecated alias of {', '.join(homes)}.")
    module.__path__ = []  # a package, so its old submodules resolve through this finder

    def __getattr__(attribute: str):
        for home in homes:
            package = import_module(home)
            if attribute in getattr(package, "__all__", ()):
                return getattr(package, attribute)
        raise AttributeError(f"module {name!r} has no attribute {attribute!r}")

    module.__getattr__ = __getattr__
    return module


class _AliasLoader(importlib.abc.Loader):
    def create_module(self, spec):
        if spec.name in MOVED_PACKAGES:
            _warn(spec.name, " and ".join(MOVED_PACKAGES[spec.name]))
            return _package_alias(spec.name)
        _warn(spec.name, MOVED_MODULES[spec.name])
        module = import_module(MOVED_MODULES[spec.name])
        self.own_spec = module.__spec__  # importlib sets __spec__ to the old name's; exec_module puts it back
        return module

    def exec_module(self, module) -> None:
        if getattr(self, "own_spec", None) is not None:  # the new module ran when it was imported
            module.__spec__ = self.own_spec


class _MovedModuleFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED_MODULES and fullname not in MOVED_PACKAGES:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(), is_package=fullname in MOVED_PACKAGES)


def install() -> None:
    """Put the finder on `sys.meta_path` once."""
    if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _MovedModuleFinder())  # before a stale ma_vlm/encoders/ folder could be found
