"""The tower drops into Transformers' own LLaVA as its vision_config."""

import pytest
import torch
from transformers import LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

from ma_vlm.models.metric_anything import MetricAnythingModel, preset_config

IMAGE_TOKEN_ID = 7


def tiny_llava(feature_layer):
    text = LlamaConfig(vocab_size=64, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    config = LlavaConfig(vision_config=preset_config("tiny"), text_config=text, image_token_id=IMAGE_TOKEN_ID,
                         vision_feature_layer=feature_layer, vision_feature_select_strategy="default")
    torch.manual_seed(0)
    return LlavaForConditionalGeneration(config).eval()


def prompt(num_image_tokens):
    return torch.tensor([[1, 5] + [IMAGE_TOKEN_ID] * num_image_tokens + [9, 10, 11]])


@pytest.mark.parametrize("feature_layer", [-1, -2, [1, -1]])
def test_llava_forward_and_generate(feature_layer):
    model = tiny_llava(feature_layer)
    assert isinstance(model.model.vision_tower, MetricAnythingModel)
    tokens = model.model.vision_tower.num_visual_tokens
    assert tokens == 8 * 8  # CLS and register tokens are not image tokens
    input_ids = prompt(tokens)
    pixel_values = torch.randn(1, 3, 512, 512)
    with torch.no_grad():
        out = model(input_ids=input_ids, pixel_values=pixel_values, labels=input_ids)
        generated = model.generate(input_ids=input_ids, pixel_values=pixel_values, max_new_tokens=3, do_sample=False)
    assert out.logits.shape == (1, input_ids.shape[1], 64)
    assert torch.isfinite(out.loss)
    assert generated.shape == (1, input_ids.shape[1] + 3)


def test_wrong_image_token_count_is_caught_by_llava():
    model = tiny_llava(-1)
    with pytest.raises(ValueError, match="[Ii]mage features and image tokens do not match"):
        model(input_ids=prompt(10), pixel_values=torch.randn(1, 3, 512, 512))


def test_llava_with_the_tower_saves_and_loads(tmp_path):
    model = tiny_llava(-2)
    model.save_pretrained(tmp_path)
    again = LlavaForConditionalGeneration.from_pretrained(tmp_path).eval()
    input_ids, pixel_values = prompt(64), torch.randn(1, 3, 512, 512)
    with torch.no_grad():
        torch.testing.assert_close(again(input_ids=input_ids, pixel_values=pixel_values).logits,
                                   model(input_ids=input_ids, pixel_values=pixel_values).logits)


def test_llava_image_features_are_the_towers_patch_tokens():
    model = tiny_llava(-1)
    pixel_values = torch.randn(1, 3, 512, 512)
    with torch.no_grad():
        features = model.model.get_image_features(pixel_values=pixel_values, vision_feature_layer=-1,
                                                  vision_feature_select_strategy="default").pooler_output[0]
        tower = model.model.vision_tower(pixel_values, output_hidden_states=True)
        patch_tokens = tower.hidden_states[-1][0, 1:]  # CLS dropped by LLaVA's "default" strategy
        expected = model.model.multi_modal_projector(patch_tokens)
    assert patch_tokens.shape[0] == tower.last_hidden_state.shape[1] - 1 == 64  # the token_depth tokens
    torch.testing.assert_close(features, expected)
