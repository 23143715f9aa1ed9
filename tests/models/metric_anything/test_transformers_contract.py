"""The depth model keeps Transformers' model contract: the attention implementation asked for is
the one that runs, attentions come back when asked, and its config loads as Transformers loads
composite configs."""

import json

import pytest
import torch
import transformers.models.dinov3_vit.modeling_dinov3_vit as dinov3
from transformers import AutoConfig, AutoModelForDepthEstimation

from ma_vlm.errors import MaVlmInputError
from ma_vlm.models.metric_anything import MetricAnythingConfig

LAYERS = 4  # the tiny preset's ViT blocks


@pytest.fixture
def attention_calls(monkeypatch):
    """Counts calls of the eager attention function and of torch's SDPA kernel."""
    calls = {"eager": 0, "sdpa": 0}
    eager, sdpa = dinov3.eager_attention_forward, torch.nn.functional.scaled_dot_product_attention

    def counted(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(dinov3, "eager_attention_forward", counted("eager", eager))
    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", counted("sdpa", sdpa))
    return calls


@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("gradients", [False, True])
def test_the_attention_asked_for_is_the_one_that_runs(tiny_model_dir, attention_calls, implementation, gradients):
    model = AutoModelForDepthEstimation.from_pretrained(tiny_model_dir, attn_implementation=implementation).eval()
    with torch.set_grad_enabled(gradients):
        model(torch.randn(1, 3, 512, 512), focal_length_px=400.0)
    other = "sdpa" if implementation == "eager" else "eager"
    assert attention_calls[implementation] == LAYERS and attention_calls[other] == 0


@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
def test_attentions_come_back_when_asked(tiny_model_dir, implementation):
    model = AutoModelForDepthEstimation.from_pretrained(tiny_model_dir, attn_implementation=implementation).eval()
    pixel_values = torch.randn(2, 3, 512, 512)
    with torch.no_grad():
        plain = model(pixel_values, focal_length_px=400.0)
        out = model(pixel_values, focal_length_px=400.0, output_attentions=True)
        as_tuple = model(pixel_values, focal_length_px=400.0, output_attentions=True, return_dict=False)
    assert plain.attentions is None
    tokens = 1 + 4 + 8 * 8  # CLS, 4 registers, the whole-image tile's 8 x 8 patches
    assert len(out.attentions) == LAYERS and out.attentions[0].shape == (2, 2, tokens, tokens)
    torch.testing.assert_close(out.attentions[0].sum(-1), torch.ones(2, 2, tokens))  # rows are distributions
    torch.testing.assert_close(as_tuple[-1][0], out.attentions[0])
    torch.testing.assert_close(out.predicted_depth, plain.predicted_depth)  # same depth either way
    assert model.config.backbone_config._attn_implementation == implementation  # the choice is kept


def test_the_backbone_config_loads_from_a_saved_folder_with_its_own_class(tiny_model_dir):
    config = MetricAnythingConfig.from_pretrained(tiny_model_dir)
    backbone_class = AutoConfig.for_model(**config.to_dict()["backbone_config"]).__class__
    assert config.sub_configs["backbone_config"] is AutoConfig
    loaded = backbone_class.from_pretrained(tiny_model_dir)
    assert loaded.to_dict() == config.backbone_config.to_dict() and loaded.hidden_size == 32


def test_a_config_that_sets_hidden_size_loads_or_says_where_the_width_lives(tiny_model_dir, tmp_path):
    saved = json.loads((tiny_model_dir / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**saved, "hidden_size": 32}))
    assert AutoConfig.from_pretrained(tmp_path).hidden_size == 32
    (tmp_path / "config.json").write_text(json.dumps({**saved, "hidden_size": 64}))
    with pytest.raises(MaVlmInputError, match="backbone_config.hidden_size"):
        AutoConfig.from_pretrained(tmp_path)
