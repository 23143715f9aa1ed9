"""The depth-prior plugin on Transformers' LLaVA (a CLIP tower): every mode, one tower pass, zero effect at start."""

import pytest
import torch
from tiny_mllms import IMAGE_TOKEN_ID, depth_inputs, llava_inputs, tiny_llava

from ma_vlm.errors import MaVlmInputError
from ma_vlm.plugin import add_depth_prior, freeze_all_but_depth_prior, load_depth_prior, save_depth_prior


def logits(model, **inputs):
    with torch.no_grad():
        return model(**inputs).logits


@pytest.mark.parametrize("mode,position_encoding_3d", [
    ("add", False), ("add", True), ("position_encoding_3d", False), ("cross_attention", True),
])  # fmt: skip
def test_plugged_llava_starts_with_its_original_logits_from_one_tower_pass(depth_model, count_forwards, mode,
                                                                           position_encoding_3d):
    model, inputs = tiny_llava(), llava_inputs(batch=2)
    original = logits(model, **inputs)
    add_depth_prior(model, depth_model, mode=mode, position_encoding_3d=position_encoding_3d)
    tower = count_forwards(depth_model)
    plugged = logits(model, **inputs, **depth_inputs(batch=2))
    assert tower.images == [2]  # one Metric Anything forward serves both images' features and depth
    torch.testing.assert_close(plugged, original, rtol=0, atol=0)


def test_replace_feeds_metric_anything_tokens_without_running_the_llava_tower(depth_model, count_forwards):
    model, inputs = tiny_llava(), llava_inputs()
    original = logits(model, **inputs)
    add_depth_prior(model, depth_model, mode="replace")
    tower, clip = count_forwards(depth_model), count_forwards(model.model.vision_tower)
    plugged = logits(model, **inputs, **depth_inputs())
    assert plugged.shape == original.shape  # same 16 image tokens: Metric Anything's 8x8 grid resampled to 4x4
    assert not torch.allclose(plugged, original)
    assert tower.images == [1] and clip.images == []


def test_concat_adds_tokens_and_the_processor_count_follows(depth_model):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import CLIPImageProcessor, LlavaProcessor, PreTrainedTokenizerFast

    from ma_vlm.plugin import update_image_token_count

    words = ["<unk>", "<s>", "</s>", "USER:", "ASSISTANT:", "how", "far", "?"]
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    processor = LlavaProcessor(CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
                               tokenizer, patch_size=8, num_additional_image_tokens=1,
                               vision_feature_select_strategy="default")
    image = torch.zeros(3, 40, 48, dtype=torch.uint8)
    before = processor(text="USER: <image> how far ? ASSISTANT:", images=image, return_tensors="pt")
    image_token = tokenizer.convert_tokens_to_ids("<image>")
    assert int((before["input_ids"] == image_token).sum()) == 16

    model = tiny_llava()
    model.config.image_token_id = image_token
    add_depth_prior(model, depth_model, mode="concat", position_encoding_3d=True, concat_tokens_per_side=3)
    update_image_token_count(processor, model)
    update_image_token_count(processor, model)  # idempotent
    inputs = processor(text="USER: <image> how far ? ASSISTANT:", images=image, return_tensors="pt")
    assert int((inputs["input_ids"] == image_token).sum()) == 16 + 9
    with torch.no_grad():
        out = model(**inputs, **depth_inputs())
    assert out.logits.shape[1] == before["input_ids"].shape[1] + 9


def test_generate_with_cross_attention_runs_the_tower_once_and_matches_the_original(depth_model, count_forwards):
    model, inputs = tiny_llava(), llava_inputs()
    settings = dict(max_new_tokens=4, do_sample=False, pad_token_id=0)
    original = model.generate(**inputs, **settings)
    add_depth_prior(model, depth_model, mode="cross_attention")
    tower = count_forwards(depth_model)
    plugged = model.generate(**inputs, **depth_inputs(), **settings)
    assert tower.images == [1]  # decoding steps reuse the cached depth memory
    torch.testing.assert_close(plugged, original)

    for block in model.depth_prior.cross_attention.values():  # once trained, the gate opens
        block.attn_gate.data.fill_(1.0)
    assert model.depth_prior._memory is not None
    with torch.no_grad():
        opened = model(**inputs, **depth_inputs()).logits
    assert not torch.allclose(opened, logits(tiny_llava(), **inputs))


def test_only_plugin_layers_receive_gradients(depth_model):
    model, inputs = tiny_llava(), llava_inputs()
    add_depth_prior(model, depth_model, mode="add", position_encoding_3d=True)
    trainable = freeze_all_but_depth_prior(model)
    assert {id(p) for p in trainable} == {id(p) for p in model.parameters() if p.requires_grad}
    out = model(**inputs, **depth_inputs(), labels=inputs["input_ids"])
    out.loss.backward()
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            assert name.startswith("depth_prior.") and not name.startswith("depth_prior.depth_model.")
        else:
            assert parameter.grad is None, name
    # zero-initialised output layers are the first to move; everything after them gets no signal yet
    assert model.depth_prior.projector.fc2.weight.grad.abs().sum() > 0
    assert model.depth_prior.position_encoding.fc2.weight.grad.abs().sum() > 0


def test_save_and_load_restore_the_exact_logits(depth_model, tmp_path):
    model, inputs = tiny_llava(), llava_inputs()
    add_depth_prior(model, depth_model, mode="add", position_encoding_3d=True)
    torch.manual_seed(3)
    for parameter in model.depth_prior.plugin_parameters():  # "trained": non-zero effect
        parameter.data.normal_(0, 0.1)
    before = logits(model, **inputs, **depth_inputs())
    assert not torch.allclose(before, logits(tiny_llava(), **inputs))
    save_depth_prior(model, tmp_path)
    again = load_depth_prior(str(tmp_path)).eval()
    torch.testing.assert_close(logits(again, **inputs, **depth_inputs()), before, rtol=0, atol=0)
    assert (tmp_path / "depth_prior" / "model.safetensors").exists()
    assert not any(k.startswith("depth_prior") for k in _saved_keys(tmp_path))


def _saved_keys(folder):
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as handle:
        return list(handle.keys())


def test_clear_errors(depth_model):
    model, inputs = tiny_llava(), llava_inputs()
    add_depth_prior(model, depth_model, mode="add")
    with pytest.raises(MaVlmInputError, match="depth_prior_pixel_values"):
        model(**inputs)
    with pytest.raises(MaVlmInputError, match="one depth image per image"):
        model(**inputs, **depth_inputs(batch=2))
    with pytest.raises(MaVlmInputError, match="depth_prior_intrinsics"):
        model(**inputs, depth_prior_pixel_values=depth_inputs()["depth_prior_pixel_values"])
    with pytest.raises(MaVlmInputError, match="already has a depth prior"):
        add_depth_prior(model, depth_model)
    with pytest.raises(MaVlmInputError, match="unknown depth-prior mode"):
        add_depth_prior(tiny_llava(), depth_model, mode="sum")
    text_only = torch.tensor([[1, 5, 9, 10]])
    assert IMAGE_TOKEN_ID not in text_only
    with torch.no_grad():  # no image, no depth needed
        assert model(input_ids=text_only).logits.shape == (1, 4, 96)
