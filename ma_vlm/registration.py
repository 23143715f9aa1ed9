"""Why `import ma_vlm` is enough for Transformers' Auto classes, and still costs no torch.

`import ma_vlm` promises that `AutoConfig`, `AutoModel`, `AutoModelForDepthEstimation`,
`AutoImageProcessor` (and Transformers' own LLaVA, whose `vision_config` goes through
`AutoConfig`) know the `metric_anything` model type. Registering means importing our classes,
which import torch and Transformers (seconds on a small CPU); `ma-vlm --help` and light commands
must not pay that. So `import ma_vlm` only installs this hook, and:

- `MetricAnythingConfig` and the image processor are registered the moment Transformers loads
  the Auto mapping they go into (`configuration_auto`, `image_processing_auto`), or at once if
  it is already loaded. Their modules import only Transformers' config / image-processing bases,
  which do not import the Auto modules, so this is safe in the middle of any import.
- the model classes (and the backbone's config) are registered when the first
  `MetricAnythingConfig` is built: every `AutoModel*` lookup goes through a config instance, so
  none can come first. Registering them while Transformers loads an Auto module instead would
  import Transformers' modeling files in the middle of their own import (they import
  `AutoModel`, and their docstring decorators read the Auto mappings): a circular import.

This is the only place that knows about it; every module of ma_vlm imports normally.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys

_AUTO = "transformers.models.auto."


def _register_config(auto) -> None:
    from ma_vlm.models.metric_anything.configuration_metric_anything import MetricAnythingConfig
    from ma_vlm.models.metric_anything_pointmap.configuration_metric_anything_pointmap import (
        MetricAnythingPointMapConfig,
    )

    auto.AutoConfig.register(MetricAnythingConfig.model_type, MetricAnythingConfig, exist_ok=True)
    auto.AutoConfig.register(MetricAnythingPointMapConfig.model_type, MetricAnythingPointMapConfig, exist_ok=True)


def _register_image_processor(auto) -> None:
    from ma_vlm.models.metric_anything.configuration_metric_anything import MetricAnythingConfig
    from ma_vlm.models.metric_anything.image_processing_metric_anything import MetricAnythingImageProcessor

    auto.AutoImageProcessor.register(
        MetricAnythingConfig, image_processor_classes={"pil": MetricAnythingImageProcessor}, exist_ok=True
    )
    from ma_vlm.models.metric_anything_pointmap.configuration_metric_anything_pointmap import (
        MetricAnythingPointMapConfig,
    )
    from ma_vlm.models.metric_anything_pointmap.image_processing_metric_anything_pointmap import (
        MetricAnythingPointMapImageProcessor,
    )

    auto.AutoImageProcessor.register(MetricAnythingPointMapConfig,
                                     image_processor_classes={"pil": MetricAnythingPointMapImageProcessor},
                                     exist_ok=True)


# Transformers module that holds an Auto mapping -> what we put into it when it loads.
REGISTRATIONS = {
    _AUTO + "configuration_auto": _register_config,
    _AUTO + "image_processing_auto": _register_image_processor,
}
_models_registered = False


def register_models() -> None:
    """Put the model classes into AutoModel / AutoModelForDepthEstimation and the backbone's
    config into AutoConfig, once (called by `MetricAnythingConfig` when it is built)."""
    global _models_registered
    if _models_registered:
        return
    _models_registered = True
    from transformers import AutoConfig, AutoModel, AutoModelForDepthEstimation

    from ma_vlm.models.metric_anything.configuration_metric_anything import MetricAnythingConfig
    from ma_vlm.models.metric_anything.configuration_metric_anything_vit import MetricAnythingViTConfig
    from ma_vlm.models.metric_anything.modeling_metric_anything import (
        MetricAnythingForDepthEstimation,
        MetricAnythingModel,
    )

    AutoConfig.register(MetricAnythingViTConfig.model_type, MetricAnythingViTConfig, exist_ok=True)
    AutoModel.register(MetricAnythingConfig, MetricAnythingModel, exist_ok=True)
    AutoModelForDepthEstimation.register(MetricAnythingConfig, MetricAnythingForDepthEstimation, exist_ok=True)
    from ma_vlm.models.metric_anything_pointmap.configuration_metric_anything_pointmap import (
        MetricAnythingPointMapConfig,
    )
    from ma_vlm.models.metric_anything_pointmap.modeling_metric_anything_pointmap import (
        MetricAnythingForPointMapEstimation,
    )

    AutoModel.register(MetricAnythingPointMapConfig, MetricAnythingForPointMapEstimation, exist_ok=True)
    AutoModelForDepthEstimation.register(MetricAnythingPointMapConfig, MetricAnythingForPointMapEstimation,
                                         exist_ok=True)


_mllm_registered = False


def register_mllm() -> None:
    """Put the spatial MLLM (`spatial_llava`) into AutoConfig, AutoModelForImageTextToText,
    AutoProcessor and AutoImageProcessor, once. Called on first use of any `ma_vlm.mllm` name
    (and by `ma_vlm.mllm.register()`), not from a Transformers import hook: its config subclasses
    `LlavaConfig`, whose module imports the Auto package, so registering it while Transformers
    loads `configuration_auto` is a circular import (measured: `partially initialized module
    ... modeling_auto`)."""
    global _mllm_registered
    if _mllm_registered:
        return
    _mllm_registered = True
    from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageTextToText, AutoProcessor

    from ma_vlm.mllm.configuration_spatial_llava import SpatialLlavaConfig
    from ma_vlm.mllm.modeling_spatial_llava import SpatialLlavaForConditionalGeneration
    from ma_vlm.mllm.processing_spatial_llava import SpatialLlavaProcessor
    from ma_vlm.models.metric_anything.image_processing_metric_anything import MetricAnythingImageProcessor

    AutoConfig.register(SpatialLlavaConfig.model_type, SpatialLlavaConfig, exist_ok=True)
    AutoModelForImageTextToText.register(SpatialLlavaConfig, SpatialLlavaForConditionalGeneration, exist_ok=True)
    AutoProcessor.register(SpatialLlavaConfig, SpatialLlavaProcessor, exist_ok=True)
    # AutoProcessor resolves the image processor through the folder's config (spatial_llava)
    AutoImageProcessor.register(SpatialLlavaConfig, image_processor_classes={"pil": MetricAnythingImageProcessor},
                                exist_ok=True)


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
    """Register now with the Auto mappings Transformers has loaded, the others when they load."""
    if not any(isinstance(finder, _AutoMappingFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AutoMappingFinder())
    for name, register in REGISTRATIONS.items():
        if name in sys.modules:
            register(sys.modules[name])
