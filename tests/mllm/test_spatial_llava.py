"""The spatial MLLM: build from parts, token counts per projector, generate, batches of images
of different sizes, intrinsics reaching the tower, save/load through the Auto classes."""

import numpy as np
import pytest
import torch

import ma_vlm.mllm
from ma_vlm.errors import MaVlmInputError

ma_vlm.mllm.register()  # spatial_llava into the Auto classes


def chat(processor, question="How far is the chair?", images=1):
    messages = [{"role": "user", "content": [{"type": "image"}] * images + [{"type": "text", "text": question}]}]
    return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def image(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize("projector_type, reduction, tokens", [
    ("linear", 1, 64), ("mlp", 1, 64), ("pixel_shuffle", 2, 16), ("avg_pool", 4, 4)])  # fmt: skip
def test_projectors_set_the_image_token_count_and_generate(build_tiny, projector_type, reduction, tokens):
    model, processor = build_tiny(projector_type, reduction)
    assert model.config.num_image_tokens == processor.num_image_tokens == tokens
    inputs = processor(images=[image(60, 80)], text=[chat(processor)])
    assert (inputs["input_ids"] == model.config.image_token_id).sum() == tokens
    with torch.no_grad():
        out = model(**inputs)
        generated = model.generate(**inputs, max_new_tokens=3, do_sample=False)
    assert out.image_hidden_states.shape == (tokens, model.config.text_config.hidden_size)
    assert generated.shape == (1, inputs["input_ids"].shape[1] + 3)


def test_chat_template_is_the_llms_with_image_tokens(build_tiny):
    _, processor = build_tiny()
    text = chat(processor, "Which is closer?")
    assert "<|im_start|>user\n<image>Which is closer?<|im_end|>\n<|im_start|>assistant\n" in text


def test_batch_of_images_of_different_sizes_matches_one_by_one(build_tiny):
    model, processor = build_tiny("pixel_shuffle", 2)
    processor.tokenizer.padding_side = "left"
    images = [image(60, 80, 1), image(120, 90, 2)]
    texts = [chat(processor, "Is the lamp left of the table?"), chat(processor, "How tall?")]
    batch = processor(images=images, text=texts, padding=True)
    with torch.no_grad():
        together = model.generate(**batch, max_new_tokens=4, do_sample=False)[:, batch["input_ids"].shape[1]:]
        for index in range(2):
            alone = processor(images=[images[index]], text=[texts[index]])
            single = model.generate(**alone, max_new_tokens=4, do_sample=False)[:, alone["input_ids"].shape[1]:]
            assert torch.equal(single[0], together[index])


def test_intrinsics_reach_the_tower(build_tiny):
    model, processor = build_tiny()
    seen = {}
    model.model.vision_tower.register_forward_pre_hook(
        lambda module, args, kwargs: seen.update(kwargs), with_kwargs=True)  # fmt: skip
    inputs = processor(images=[image(60, 80)], text=[chat(processor)])
    intrinsics = torch.tensor([[500.0, 510.0, 256.0, 250.0]])
    with torch.no_grad():
        model(**inputs, intrinsics=intrinsics)
        model.generate(**inputs, intrinsics=intrinsics, max_new_tokens=2, do_sample=False)
    assert torch.equal(seen["intrinsics"], intrinsics)


def test_image_token_count_mismatch_is_a_clear_error(build_tiny):
    _, processor = build_tiny()
    with pytest.raises(MaVlmInputError, match="1 image tokens .* but 2 images"):
        processor(images=[image(60, 80), image(60, 80)], text=[chat(processor)])


@pytest.mark.parametrize("level, projector_type, reduction, tokens", [
    (1, "avg_pool", 4, 16), (0, "pixel_shuffle", 4, 64)])  # fmt: skip
def test_finer_pyramid_levels_give_more_tokens_from_the_depth_decoders_maps(build_tiny, level, projector_type,
                                                                          reduction, tokens):  # fmt: skip
    model, processor = build_tiny(projector_type, reduction, vision_pyramid_level=level)
    assert model.config.tower_tokens_per_image == (512 // 16 >> level) ** 2  # tiny tower: 512 px, patch 16
    assert model.config.num_image_tokens == processor.num_image_tokens == tokens
    inputs = processor(images=[image(60, 80)], text=[chat(processor)])
    with torch.no_grad():
        out = model(**inputs)
        tower_map = model.model.vision_tower(inputs["pixel_values"]).level_features[level]  # (1, D, h, w)
    if projector_type == "avg_pool":  # the projector's MLP sees the pooled map, row-major
        pooled = torch.nn.functional.avg_pool2d(tower_map, reduction).flatten(2).transpose(1, 2)[0]
        torch.testing.assert_close(out.image_hidden_states, model.model.multi_modal_projector.mlp(pooled))
    assert out.image_hidden_states.shape == (tokens, model.config.text_config.hidden_size)


def test_finer_levels_take_the_last_layer_only(build_tiny):
    with pytest.raises(ValueError, match="set vision_feature_layer=-1"):
        build_tiny("avg_pool", 4, vision_pyramid_level=1, vision_feature_layer=-2)


def test_token_reduction_must_divide_the_grid(build_tiny):
    with pytest.raises(MaVlmInputError, match="must divide the 8x8 token grid"):
        build_tiny("avg_pool", 3)


def test_saves_and_loads_with_the_auto_classes(build_tiny, tmp_path):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model, processor = build_tiny("avg_pool", 2)
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    again = AutoModelForImageTextToText.from_pretrained(tmp_path).eval()
    again_processor = AutoProcessor.from_pretrained(tmp_path)
    assert type(again).__name__ == "SpatialLlavaForConditionalGeneration"
    inputs = processor(images=[image(60, 80)], text=[chat(processor)])
    reloaded_inputs = again_processor(images=[image(60, 80)], text=[chat(again_processor)])
    assert torch.equal(inputs["input_ids"], reloaded_inputs["input_ids"])
    with torch.no_grad():
        torch.testing.assert_close(again(**reloaded_inputs).logits, model(**inputs).logits)
