"""The plugin beyond LLaVA: Idefics3/SmolVLM, Qwen2-VL, Qwen2.5-VL and LLaVA-NeXT, tiny random configs."""

import pytest
import torch
from tiny_mllms import (
    IMAGE_TOKEN_ID,
    depth_inputs,
    idefics3_inputs,
    qwen_inputs,
    tiny_idefics3,
    tiny_llava_next,
    tiny_qwen2_vl,
)

from ma_vlm.errors import MaVlmInputError
from ma_vlm.plugin import add_depth_prior

FAMILIES = {
    "idefics3": (tiny_idefics3, idefics3_inputs),
    "qwen2_vl": (tiny_qwen2_vl, qwen_inputs),
    "qwen2_5_vl": (lambda: tiny_qwen2_vl(version="2.5"), qwen_inputs),
}


def logits(model, **inputs):
    with torch.no_grad():
        return model(**inputs).logits


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("mode", ["add", "cross_attention"])
def test_plugged_model_keeps_its_logits_and_runs_the_tower_once(depth_model, count_forwards, family, mode):
    build, make_inputs = FAMILIES[family]
    model, inputs = build(), make_inputs(batch=2)
    original = logits(model, **inputs)
    add_depth_prior(model, depth_model, mode=mode, position_encoding_3d=True)
    tower = count_forwards(depth_model)
    plugged = logits(model, **inputs, **depth_inputs(batch=2))
    assert tower.images == [2]
    torch.testing.assert_close(plugged, original, rtol=0, atol=0)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_replace_keeps_the_token_count(depth_model, family):
    build, make_inputs = FAMILIES[family]
    model, inputs = build(), make_inputs()
    original = logits(model, **inputs)
    add_depth_prior(model, depth_model, mode="replace")
    plugged = logits(model, **inputs, **depth_inputs())
    assert plugged.shape == original.shape and not torch.allclose(plugged, original)


def test_idefics3_concat_appends_tokens_per_image(depth_model):
    model = tiny_idefics3()
    add_depth_prior(model, depth_model, mode="concat", concat_tokens_per_side=2)
    inputs = idefics3_inputs(image_tokens=4 + 4)
    assert logits(model, **inputs, **depth_inputs()).shape == (1, inputs["input_ids"].shape[1], 96)


def test_modes_a_family_cannot_take_are_refused(depth_model):
    with pytest.raises(MaVlmInputError, match="not available for qwen2_vl"):
        add_depth_prior(tiny_qwen2_vl(), depth_model, mode="concat")  # M-RoPE positions follow image_grid_thw
    with pytest.raises(MaVlmInputError, match="not available for llava_next"):
        add_depth_prior(tiny_llava_next(), depth_model, mode="add")  # anyres crops + newlines: no single grid


def test_llava_next_cross_attention_starts_at_zero_effect(depth_model):
    model = tiny_llava_next()
    inputs = {"input_ids": torch.tensor([[1, 5] + [IMAGE_TOKEN_ID] * 36 + [9, 10]]),
              "pixel_values": torch.randn(1, 2, 3, 32, 32, generator=torch.Generator().manual_seed(0)),
              "image_sizes": torch.tensor([[32, 32]])}
    original = logits(model, **inputs)
    add_depth_prior(model, depth_model, mode="cross_attention")
    torch.testing.assert_close(logits(model, **inputs, **depth_inputs()), original, rtol=0, atol=0)
