"""Every model type of ma-vlm and how it reaches Transformers' Auto classes: one table.

`MODEL_TYPES` names, for each `model_type`, its config class, its model classes per Auto class
and its processors per Auto class, as import paths. `ensure_registered(model_type)` imports them
and registers them (once); adding a model type is one entry here plus the model's own folder.

`import ma_vlm` promises that `AutoConfig`, `AutoModel`, `AutoModelForDepthEstimation`,
`AutoImageProcessor` (and Transformers' own LLaVA, whose `vision_config` goes through
`AutoConfig`) know the tower's types, and still costs no torch (`ma-vlm --help` must not pay
seconds for it). So nothing is imported at `import ma_vlm`; instead:

- the config and image processor of an `at_import` type are registered the moment Transformers
  loads the Auto mapping they go into (`configuration_auto`, `image_processing_auto`; at once if
  it is already loaded), through the import hook below. Their modules import only Transformers'
  config / image-processing bases, which do not import the Auto modules, so this is safe in the
  middle of any import.
- everything else of a type (its model classes, and the config of a type that is not
  `at_import`) is registered by `ensure_registered`, which each config calls when it is built:
  every `AutoModel*` lookup goes through a config instance, so none can come first. Registering
  model classes while Transformers loads an Auto module instead would import Transformers'
  modeling files in the middle of their own import (they import `AutoModel`, and their docstring
  decorators read the Auto mappings): a circular import.
- `spatial_llava` is not `at_import`: its config subclasses `LlavaConfig`, whose module imports the
  Auto package, so registering it while Transformers loads `configuration_auto` is a circular
  import (measured: `partially initialized module ... modeling_auto`). The first use of an
  `ma_vlm.mllm` name registers it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from importlib import import_module
from typing import NamedTuple

_AUTO = "transformers.models.auto."
_MA = "ma_vlm.models.metric_anything."
_PM = "ma_vlm.models.metric_anything_pointmap."
_MA_IMAGE_PROCESSOR = f"{_MA}image_processing_metric_anything.MetricAnythingImageProcessor"


class ModelType(NamedTuple):
    """Import paths ("package.module.Class") of one model type's classes."""

    config: str
    models: dict[str, str] = {}  # Auto class name -> model class
    processors: dict[str, str] = {}  # AutoImageProcessor / AutoProcessor -> processor class
    at_import: bool = False  # config and image processor known from `import ma_vlm` on (see above)


MODEL_TYPES: dict[str, ModelType] = {
    "metric_anything": ModelType(
        f"{_MA}configuration_metric_anything.MetricAnythingConfig",
        {"AutoModel": f"{_MA}modeling_metric_anything.MetricAnythingModel",
         "AutoModelForDepthEstimation": f"{_MA}modeling_metric_anything.MetricAnythingForDepthEstimation"},
        {"AutoImageProcessor": _MA_IMAGE_PROCESSOR}, at_import=True),
    "metric_anything_vit": ModelType(f"{_MA}configuration_metric_anything_vit.MetricAnythingViTConfig"),
    "metric_anything_pointmap": ModelType(
        f"{_PM}configuration_metric_anything_pointmap.MetricAnythingPointMapConfig",
        {"AutoModel": f"{_PM}modeling_metric_anything_pointmap.MetricAnythingForPointMapEstimation",
         "AutoModelForDepthEstimation": f"{_PM}modeling_metric_anything_pointmap.MetricAnythingForPointMapEstimation"},
        {"AutoImageProcessor": f"{_PM}image_processing_metric_anything_pointmap.MetricAnythingPointMapImageProcessor"},
        at_import=True),
    "spatial_llava": ModelType(
        "ma_vlm.mllm.configuration_spatial_llava.SpatialLlavaConfig",
        {"AutoModelForImageTextToText": "ma_vlm.mllm.modeling_spatial_llava.SpatialLlavaForConditionalGeneration"},
        # AutoProcessor resolves the image processor through the folder's config (spatial_llava)
        {"AutoProcessor": "ma_vlm.mllm.processing_spatial_llava.SpatialLlavaProcessor",
         "AutoImageProcessor": _MA_IMAGE_PROCESSOR}),
}
_registered: set[str] = set()


def import_class(path: str):
    """"package.module.Class" -> the class."""
    module, _, name = path.rpartition(".")
    return getattr(import_module(module), name)


def _register_config(auto_config, entry: ModelType) -> None:
    config = import_class(entry.config)
    auto_config.register(config.model_type, config, exist_ok=True)


def _register_processor(auto_class, config, path: str) -> None:
    if auto_class.__name__ == "AutoImageProcessor":
        auto_class.register(config, image_processor_classes={"pil": import_class(path)}, exist_ok=True)
    else:
        auto_class.register(config, import_class(path), exist_ok=True)


def ensure_registered(model_type: str | None = None) -> None:
    """Register `model_type` (every type when None) with the Auto classes its `MODEL_TYPES`
    entry names, once per type. Imports its classes (torch for the models)."""
    import transformers

    if model_type is not None and model_type not in MODEL_TYPES:
        raise KeyError(f"unknown model type {model_type!r}; ma_vlm.registration.MODEL_TYPES has {sorted(MODEL_TYPES)}")
    for name in MODEL_TYPES if model_type is None else [model_type]:
        if name in _registered:
            continue
        _registered.add(name)  # first: the config's own construction calls back in here
        entry = MODEL_TYPES[name]
        _register_config(transformers.AutoConfig, entry)
        config = import_class(entry.config)
        for auto_name, path in entry.models.items():
            getattr(transformers, auto_name).register(config, import_class(path), exist_ok=True)
        for auto_name, path in entry.processors.items():
            _register_processor(getattr(transformers, auto_name), config, path)


def forget_registered(model_type: str) -> None:
    """Let `ensure_registered(model_type)` run again (for a type whose entry a test replaced)."""
    _registered.discard(model_type)


def _register_configs_at_import(auto) -> None:
    for entry in MODEL_TYPES.values():
        if entry.at_import:
            _register_config(auto.AutoConfig, entry)


def _register_image_processors_at_import(auto) -> None:
    for entry in MODEL_TYPES.values():
        if entry.at_import and "AutoImageProcessor" in entry.processors:
            _register_processor(auto.AutoImageProcessor, import_class(entry.config),
                                entry.processors["AutoImageProcessor"])


class BackboneSubConfigs:
    """`sub_configs` of our composite configs: `{"backbone_config": AutoConfig}`, read on first use.

    Why AutoConfig: the backbone is one of several config classes (DINOv3, DINOv2), and
    Transformers loads a sub-config from a saved folder through the class named here
    (`AutoConfig.for_model(**sub_dict)`), which picks the backbone's own class. Why lazily: the
    config modules are imported while Transformers loads `configuration_auto` (module docstring), so
    naming `AutoConfig` in their class bodies would be a circular import.
    """

    def __get__(self, instance, owner) -> dict:
        from transformers import AutoConfig

        return {"backbone_config": AutoConfig}


# Transformers module that holds an Auto mapping -> what we put into it when it loads.
REGISTRATIONS = {
    _AUTO + "configuration_auto": _register_configs_at_import,
    _AUTO + "image_processing_auto": _register_image_processors_at_import,
}


class _RegisterAfterLoading(importlib.abc.Loader):
    """Runs Transformers' module, then puts our classes into the mapping it defines."""

    def __init__(self, loader, register):
        self.loader, self.register = loader, register

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        self.register(module)


class _AutoMappingFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        register = REGISTRATIONS.get(fullname)
        if register is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _RegisterAfterLoading(spec.loader, register)
        return spec


def register_auto_classes() -> None:
    """The `at_import` part: now with the Auto mappings Transformers has loaded, the others when they load."""
    if not any(isinstance(finder, _AutoMappingFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AutoMappingFinder())
    for name, register in REGISTRATIONS.items():
        if name in sys.modules:
            register(sys.modules[name])
