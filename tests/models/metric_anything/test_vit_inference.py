"""Inference runs the ViT blocks through shared buffers (`vit_inference.FusedBlocks`); it must
give what the layers' own forward gives, keep every tapped and returned hidden state intact,
and step aside where it would be wrong (gradients, a PEFT LoRA on the tower)."""

import pytest
import torch

from ma_vlm.models.metric_anything import MetricAnythingForDepthEstimation, preset_config
from ma_vlm.models.metric_anything.vit_inference import fused_blocks


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = MetricAnythingForDepthEstimation(preset_config("tiny")).eval()
    with torch.no_grad():  # random, non-trivial layer scales and biases
        for name, parameter in model.model.named_parameters():
            if "lambda" in name or name.endswith("bias"):
                parameter.normal_(0.0, 0.3)
    pixel_values = torch.randn(2, 3, 512, 512, generator=torch.Generator().manual_seed(1))
    return model, pixel_values


def layers_own_forward(model, pixel_values, **kwargs):
    with torch.enable_grad():  # gradients on: FusedBlocks steps aside
        return model(pixel_values, **kwargs)


def fusable(blocks, width):
    tokens, rope = torch.zeros(1, 5, width), (torch.ones(1, 4), torch.ones(1, 4))
    return fused_blocks(blocks, tokens, {"position_embeddings": rope}) is not None


def test_inference_equals_the_layers_own_forward_with_taps_and_hidden_states_intact(tiny):
    model, pixel_values = tiny
    with torch.no_grad():
        assert fusable(model.model.backbone.model.layer, model.config.hidden_size)
        fast = model(pixel_values, output_hidden_states=True)
        tower = model.model(pixel_values, output_hidden_states=True)
    plain = layers_own_forward(model, pixel_values, output_hidden_states=True)
    plain_tower = layers_own_forward(model.model, pixel_values, output_hidden_states=True)
    torch.testing.assert_close(fast.canonical_inverse_depth, plain.canonical_inverse_depth.detach(), rtol=1e-4, atol=1e-6)
    for ours, theirs in zip(fast.hidden_states, plain.hidden_states, strict=True):
        torch.testing.assert_close(ours, theirs.detach(), rtol=1e-4, atol=1e-5)
    for ours, theirs in zip(tower.tap_features, plain_tower.tap_features, strict=True):
        torch.testing.assert_close(ours, theirs.detach(), rtol=1e-4, atol=1e-5)


def test_bf16_autocast_follows_autocast(tiny):
    model, pixel_values = tiny
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        fast = model(pixel_values).canonical_inverse_depth.float()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        plain = layers_own_forward(model, pixel_values).canonical_inverse_depth.float().detach()
    assert ((fast - plain).abs().mean() / plain.abs().mean()).item() < 1e-2


def test_a_lora_on_the_tower_is_not_bypassed(tiny):
    from peft import LoraConfig, get_peft_model

    model, pixel_values = tiny
    tower = get_peft_model(model.model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    with torch.no_grad():
        assert not fusable(tower.base_model.model.backbone.model.layer, model.config.hidden_size)
        with_lora = tower(pixel_values).last_hidden_state
        with tower.disable_adapter():
            without = tower(pixel_values).last_hidden_state
    assert (with_lora - without).abs().max() > 1e-3
    tower.unload()  # the module-scoped model goes back to plain layers
