"""The point-map model keeps Transformers' model contract: hidden states and attentions when
asked, `return_dict=False`, an input-embeddings accessor, half precision on CPU, the attention
implementation asked for, and a config that loads as Transformers loads composite configs."""

import json

import pytest
import torch
import transformers.models.dinov2.modeling_dinov2 as dinov2
from transformers import AutoConfig

from ma_vlm.errors import MaVlmInputError
from ma_vlm.models.metric_anything_pointmap import MetricAnythingForPointMapEstimation, pointmap_preset_config

LAYERS = 4  # the tiny preset's ViT blocks


def tiny_model(**kwargs):
    torch.manual_seed(0)
    return MetricAnythingForPointMapEstimation._from_config(pointmap_preset_config("tiny"), **kwargs).eval()


@pytest.fixture(scope="module")
def pixel_values():
    return torch.rand(2, 3, 42, 70, generator=torch.Generator().manual_seed(0))


def test_hidden_states_and_attentions_come_back_when_asked(pixel_values):
    model = tiny_model(attn_implementation="eager")
    with torch.no_grad():
        plain = model(pixel_values, resolution_level=0, recover_camera=False)
        out = model(pixel_values, resolution_level=0, recover_camera=False, output_hidden_states=True,
                    output_attentions=True)  # fmt: skip
    assert plain.hidden_states is None and plain.attentions is None
    tokens = 1 + 4 * 7  # CLS + the 4 x 7 grid that 32 tokens give a 42 x 70 image
    assert len(out.hidden_states) == LAYERS + 1 and out.hidden_states[0].shape == (2, tokens, 32)
    assert len(out.attentions) == LAYERS and out.attentions[0].shape == (2, 2, tokens, tokens)
    torch.testing.assert_close(out.affine_points, plain.affine_points)


def test_return_dict_false_gives_the_same_values_as_a_tuple(pixel_values):
    model = tiny_model()
    with torch.no_grad():
        as_dict = model(pixel_values, resolution_level=0, recover_camera=False)
        as_tuple = model(pixel_values, resolution_level=0, recover_camera=False, return_dict=False)
    assert isinstance(as_tuple, tuple) and len(as_tuple) == len(as_dict.to_tuple())
    for ours, theirs in zip(as_tuple, as_dict.to_tuple()):
        torch.testing.assert_close(ours, theirs)


def test_input_embeddings_are_the_vit_patch_embedding():
    model = tiny_model()
    assert model.get_input_embeddings() is model.backbone.embeddings.patch_embeddings


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_runs_on_cpu(pixel_values, dtype):
    model = tiny_model()
    with torch.no_grad():
        reference = model(pixel_values, resolution_level=0, recover_camera=False).affine_points
        half = model.to(dtype)(pixel_values.to(dtype), resolution_level=0, recover_camera=False).affine_points
    assert half.dtype == dtype
    torch.testing.assert_close(half.float(), reference, rtol=0.05, atol=0.05)


@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
def test_the_attention_asked_for_is_the_one_that_runs(monkeypatch, pixel_values, implementation):
    calls = {"eager": 0, "sdpa": 0}

    def counted(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(dinov2, "eager_attention_forward", counted("eager", dinov2.eager_attention_forward))
    sdpa = counted("sdpa", torch.nn.functional.scaled_dot_product_attention)
    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", sdpa)
    model = tiny_model(attn_implementation=implementation)
    with torch.no_grad():
        model(pixel_values, resolution_level=0, recover_camera=False)
    other = "sdpa" if implementation == "eager" else "eager"
    assert calls[implementation] == LAYERS and calls[other] == 0


def test_config_loads_its_backbone_and_a_matching_hidden_size(tmp_path):
    config = pointmap_preset_config("tiny")
    config.save_pretrained(tmp_path)
    backbone_class = AutoConfig.for_model(**config.to_dict()["backbone_config"]).__class__
    assert backbone_class.from_pretrained(tmp_path).to_dict() == config.backbone_config.to_dict()
    saved = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**saved, "hidden_size": 32}))
    assert AutoConfig.from_pretrained(tmp_path).hidden_size == 32
    (tmp_path / "config.json").write_text(json.dumps({**saved, "hidden_size": 1024}))
    with pytest.raises(MaVlmInputError, match="backbone_config.hidden_size"):
        AutoConfig.from_pretrained(tmp_path)
