"""A model type is one entry of `ma_vlm.registration.MODEL_TYPES` plus its own module: a throw-away
type, defined in a temporary module, loads through AutoConfig, AutoModel and AutoImageProcessor."""

import sys
import textwrap

import pytest
import torch
from transformers import AutoConfig, AutoImageProcessor, AutoModel
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
from transformers.models.auto.image_processing_auto import IMAGE_PROCESSOR_MAPPING

from ma_vlm import registration
from ma_vlm.models.metric_anything import MetricAnythingImageProcessor

TOY_MODULE = '''
import torch
from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig, PreTrainedModel

from ma_vlm.registration import ensure_registered


@strict
class ToyDepthConfig(PreTrainedConfig):
    model_type = "toy_depth"
    hidden_size: int = 4

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        ensure_registered(self.model_type)


class ToyDepthModel(PreTrainedModel):
    config_class = ToyDepthConfig

    def __init__(self, config):
        super().__init__(config)
        self.head = torch.nn.Linear(config.hidden_size, 1)
        self.post_init()

    def forward(self, features):
        return self.head(features)
'''


@pytest.fixture
def toy_type(tmp_path, monkeypatch):
    """The one line a new type adds to the table, with its module on sys.path; afterwards the
    Auto classes, the table and sys.modules are as they were."""
    (tmp_path / "toy_depth_model.py").write_text(textwrap.dedent(TOY_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(registration.MODEL_TYPES, "toy_depth", registration.ModelType(
        "toy_depth_model.ToyDepthConfig", {"AutoModel": "toy_depth_model.ToyDepthModel"},
        {"AutoImageProcessor": "ma_vlm.models.metric_anything.image_processing_metric_anything."
                               "MetricAnythingImageProcessor"}))
    yield
    module = sys.modules.pop("toy_depth_model", None)
    CONFIG_MAPPING._extra_content.pop("toy_depth", None)
    if module is not None:
        AutoModel._model_mapping._extra_content.pop(module.ToyDepthConfig, None)
        IMAGE_PROCESSOR_MAPPING._extra_content.pop(module.ToyDepthConfig, None)
    registration.forget_registered("toy_depth")


def test_a_new_type_loads_through_the_auto_classes_after_ensure_registered(toy_type, tmp_path):
    assert "toy_depth" not in CONFIG_MAPPING
    registration.ensure_registered("toy_depth")
    from toy_depth_model import ToyDepthConfig, ToyDepthModel

    torch.manual_seed(0)
    model = ToyDepthModel(ToyDepthConfig(hidden_size=3))
    model.save_pretrained(tmp_path / "toy")
    MetricAnythingImageProcessor().save_pretrained(tmp_path / "toy")

    config = AutoConfig.from_pretrained(tmp_path / "toy")
    loaded = AutoModel.from_pretrained(tmp_path / "toy")
    assert type(config) is ToyDepthConfig and config.hidden_size == 3
    assert type(loaded) is ToyDepthModel
    assert torch.equal(loaded.head.weight, model.head.weight)
    assert type(AutoImageProcessor.from_pretrained(tmp_path / "toy")) is MetricAnythingImageProcessor


def test_an_unknown_type_is_named_with_the_known_ones():
    with pytest.raises(KeyError, match="no_such_type.*metric_anything"):
        registration.ensure_registered("no_such_type")
