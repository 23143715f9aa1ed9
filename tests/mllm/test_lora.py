"""PEFT stages: what trains in `align` and `lora`, adapters + projector saved and loaded in one
call, and merge_and_unload giving the adapter model's outputs."""

import numpy as np
import torch

from ma_vlm.mllm import LoraSettings, apply_stage, load_spatial_mllm


def inputs_for(processor):
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "How far?"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return processor(images=[np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)], text=[text])


def perturb_trainables(model):
    """Training stand-in: move every trainable weight (LoRA B starts at zero, so LoRA is a no-op
    until trained)."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))


def test_align_trains_only_the_projector(build_tiny):
    model, _ = build_tiny()
    model = apply_stage(model, "align")
    names = {name.split(".")[1] for name, p in model.named_parameters() if p.requires_grad}
    assert names == {"multi_modal_projector"}


def test_lora_stage_targets_llm_and_optionally_tower(build_tiny):
    model, _ = build_tiny()
    peft_model = apply_stage(model, "lora", LoraSettings(rank=4))
    trainable = [name for name, p in peft_model.named_parameters() if p.requires_grad]
    assert any("language_model" in n and "lora_A" in n for n in trainable)
    assert not any("vision_tower" in n for n in trainable)
    assert any("multi_modal_projector.modules_to_save" in n for n in trainable)
    model, _ = build_tiny()
    with_tower = apply_stage(model, "lora", LoraSettings(rank=4, tower_lora=True))
    assert any("vision_tower" in n and "lora_A" in n for n, p in with_tower.named_parameters() if p.requires_grad)


def test_adapters_and_projector_save_and_load_in_one_call_and_merge_matches(build_tiny, tmp_path):
    model, processor = build_tiny("pixel_shuffle", 2)
    model.save_pretrained(tmp_path / "base")
    model = load_spatial_mllm(str(tmp_path / "base"))  # the adapter records where its base is
    peft_model = apply_stage(model, "lora", LoraSettings(rank=4, tower_lora=True))
    perturb_trainables(peft_model)
    peft_model.eval()
    peft_model.save_pretrained(tmp_path / "adapter")
    inputs = inputs_for(processor)
    with torch.no_grad():
        expected = peft_model(**inputs).logits
        base_logits = peft_model.get_base_model().model.language_model.embed_tokens.weight.clone()
    loaded = load_spatial_mllm(str(tmp_path / "adapter")).eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(**inputs).logits, expected)
        merged = loaded.merge_and_unload()
        assert type(merged).__name__ == "SpatialLlavaForConditionalGeneration"
        torch.testing.assert_close(merged(**inputs).logits, expected, atol=1e-4, rtol=1e-4)
    assert base_logits.shape[0] == merged.config.text_config.vocab_size
