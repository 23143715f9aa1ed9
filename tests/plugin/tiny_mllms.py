"""Tiny random MLLMs of each supported family (the hubs are unreachable) and their depth inputs."""

import torch
from transformers import (
    CLIPVisionConfig,
    Idefics3Config,
    Idefics3ForConditionalGeneration,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2VLConfig,
    Qwen2VLForConditionalGeneration,
)

from ma_vlm.models.metric_anything import MetricAnythingForDepthEstimation, preset_config

IMAGE_TOKEN_ID = 7
VOCAB = 96
TEXT = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=512)


def tiny_depth_model(seed=0):
    torch.manual_seed(seed)
    return MetricAnythingForDepthEstimation(preset_config("tiny")).eval()


def depth_inputs(batch=1, seed=1):
    """Depth pixel_values (B, 3, 512, 512) and intrinsics (B, 4) in their pixels (60 degree-ish FoV)."""
    generator = torch.Generator().manual_seed(seed)
    pixel_values = torch.randn(batch, 3, 512, 512, generator=generator)
    intrinsics = torch.tensor([[440.0, 440.0, 255.5, 255.5]]).repeat(batch, 1)
    return {"depth_prior_pixel_values": pixel_values, "depth_prior_intrinsics": intrinsics}


def tiny_llava(seed=0):
    """CLIP tower 32 px / patch 8 -> 16 visual tokens per image (default strategy drops CLS)."""
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                              image_size=32, patch_size=8)
    config = LlavaConfig(vision_config=vision, text_config=LlamaConfig(**TEXT), image_token_id=IMAGE_TOKEN_ID,
                         vision_feature_layer=-1, vision_feature_select_strategy="default")
    torch.manual_seed(seed)
    return LlavaForConditionalGeneration(config).eval()


def llava_inputs(batch=1, image_tokens=16, seed=2):
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.tensor([[1, 5] + [IMAGE_TOKEN_ID] * image_tokens + [9, 10, 11]] * batch)
    return {"input_ids": input_ids, "pixel_values": torch.randn(batch, 3, 32, 32, generator=generator)}


def tiny_idefics3(seed=0):
    """Idefics3 vision 32 px / patch 8, scale_factor 2 -> 4 visual tokens per image."""
    config = Idefics3Config(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                           image_size=32, patch_size=8),
        text_config=dict(model_type="llama", **TEXT), image_token_id=IMAGE_TOKEN_ID, scale_factor=2)
    torch.manual_seed(seed)
    return Idefics3ForConditionalGeneration(config).eval()


def idefics3_inputs(batch=1, image_tokens=4, seed=2):
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.tensor([[1, 5] + [IMAGE_TOKEN_ID] * image_tokens + [9, 10, 11]] * batch)
    return {"input_ids": input_ids, "pixel_values": torch.randn(batch, 1, 3, 32, 32, generator=generator)}


def _qwen_vision(hidden=32):
    return dict(depth=2, embed_dim=32, hidden_size=hidden, num_heads=4, patch_size=4, spatial_merge_size=2,
                temporal_patch_size=2, in_chans=3)


def tiny_qwen2_vl(seed=0, version="2"):
    """Qwen2(-.5)-VL with patch 4, merge 2: a 16x16 image -> 4x4 patches -> 2x2 = 4 visual tokens."""
    text = dict(TEXT, rope_parameters={"rope_type": "default", "mrope_section": [2, 1, 1], "rope_theta": 10000.0})
    if version == "2":
        config = Qwen2VLConfig(vision_config=_qwen_vision(), text_config=text, image_token_id=IMAGE_TOKEN_ID,
                               video_token_id=8, vision_start_token_id=3, vision_end_token_id=4)
        cls = Qwen2VLForConditionalGeneration
    else:
        vision = dict(_qwen_vision(), out_hidden_size=32, intermediate_size=64, fullatt_block_indexes=[1],
                      window_size=16)
        config = Qwen2_5_VLConfig(vision_config=vision, text_config=text, image_token_id=IMAGE_TOKEN_ID,
                                  video_token_id=8, vision_start_token_id=3, vision_end_token_id=4)
        cls = Qwen2_5_VLForConditionalGeneration
    torch.manual_seed(seed)
    return cls(config).eval()


def qwen_inputs(batch=1, seed=2):
    generator = torch.Generator().manual_seed(seed)
    tokens = [1, 5, 3] + [IMAGE_TOKEN_ID] * 4 + [4, 9, 10, 11]
    input_ids = torch.tensor([tokens] * batch)
    mm_token_type_ids = (input_ids == IMAGE_TOKEN_ID).int()
    patches = torch.randn(batch * 16, 3 * 2 * 4 * 4, generator=generator)
    return {"input_ids": input_ids, "pixel_values": patches, "image_grid_thw": torch.tensor([[1, 4, 4]] * batch),
            "mm_token_type_ids": mm_token_type_ids}


def tiny_llava_next(seed=0):
    """LLaVA-NeXT with one 32 px pinpoint: base 16 tokens + 4x4 unpadded + 4 newlines = 36 per image."""
    from transformers import LlavaNextConfig, LlavaNextForConditionalGeneration

    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                              image_size=32, patch_size=8)
    config = LlavaNextConfig(vision_config=vision, text_config=LlamaConfig(**TEXT), image_token_id=IMAGE_TOKEN_ID,
                             image_grid_pinpoints=[[32, 32]], vision_feature_layer=-1,
                             vision_feature_select_strategy="default")
    torch.manual_seed(seed)
    return LlavaNextForConditionalGeneration(config).eval()
