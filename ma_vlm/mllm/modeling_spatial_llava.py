"""The spatial MLLM: Transformers' LLaVA with a Metric Anything tower and a choice of projector.

Only what LLaVA lacks is overridden:
- the projector (`projector_type`, `token_reduction`: `ma_vlm.mllm.projector`);
- `intrinsics` (B_images, 4) [fx, fy, cx, cy] in pixels of `pixel_values` reach the tower's
  forward next to `pixel_values` (the tower ignores what it does not use).
Everything else -- placing image features at the image tokens, the LLM, the loss, `generate`,
caching, gradient checkpointing, save/load -- is `LlavaModel` / `LlavaForConditionalGeneration`.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import LlavaForConditionalGeneration, LlavaModel
from transformers.modeling_outputs import BaseModelOutputWithPooling
from transformers.models.llava.modeling_llava import LlavaPreTrainedModel

from ma_vlm.mllm.configuration_spatial_llava import SpatialLlavaConfig
from ma_vlm.mllm.projector import build_projector


class SpatialLlavaModel(LlavaModel):
    config_class = SpatialLlavaConfig

    def __init__(self, config: SpatialLlavaConfig):
        super().__init__(config)
        layers = 1 if isinstance(config.vision_feature_layer, int) else len(config.vision_feature_layer)
        self.multi_modal_projector = build_projector(
            config.vision_config.hidden_size * layers, config.text_config.hidden_size, config.projector_type,
            config.token_reduction, bias=config.multimodal_projector_bias, act=config.projector_hidden_act)
        self.post_init()

    def get_image_features(self, pixel_values: torch.FloatTensor, vision_feature_layer=None,
                           vision_feature_select_strategy=None, intrinsics: torch.Tensor | None = None,
                           **kwargs) -> BaseModelOutputWithPooling:  # fmt: skip
        """pixel_values (B, 3, S, S); intrinsics (B, 4) or None. `pooler_output`: a list of B
        (num_image_tokens, D_text) projected features."""
        layer = self.config.vision_feature_layer if vision_feature_layer is None else vision_feature_layer
        strategy = vision_feature_select_strategy or self.config.vision_feature_select_strategy
        tower_kwargs = {"intrinsics": intrinsics} if intrinsics is not None else {}
        level = self.config.vision_pyramid_level
        outputs = self.vision_tower(pixel_values, output_hidden_states=level == 2, return_dict=True, **tower_kwargs)
        if level != 2:  # (B, D, h, w) merged tiles of a finer level -> (B, h * w, D), row-major like the tile
            selected = [outputs.level_features[level].flatten(2).transpose(1, 2)]
        else:
            layers = [layer] if isinstance(layer, int) else list(layer)
            selected = [outputs.hidden_states[index] for index in layers]
            if strategy == "default":  # drop CLS (the tower has already removed registers)
                selected = [tokens[:, 1:] for tokens in selected]
        image_features = self.multi_modal_projector(torch.cat(selected, dim=-1))
        outputs.pooler_output = list(image_features)
        return outputs

    def forward(self, input_ids=None, pixel_values=None, intrinsics=None, inputs_embeds=None,
                vision_feature_layer=None, vision_feature_select_strategy=None, **kwargs):
        """LLaVA's forward; `intrinsics` (B_images, 4) go to the tower with `pixel_values`.

        LlavaModel.forward calls `get_image_features` without extra arguments, so the image
        features are placed here, with LLaVA's own placeholder check, and the rest is LLaVA's.
        """
        if pixel_values is None:
            return super().forward(input_ids=input_ids, inputs_embeds=inputs_embeds, **kwargs)
        if inputs_embeds is None:
            inputs_embeds = self.get_input_embeddings()(input_ids)
        image_features = self.get_image_features(
            pixel_values=pixel_values, vision_feature_layer=vision_feature_layer,
            vision_feature_select_strategy=vision_feature_select_strategy, intrinsics=intrinsics).pooler_output
        image_features = torch.cat(image_features, dim=0).to(inputs_embeds.device, inputs_embeds.dtype)
        mask = self.get_placeholder_mask(input_ids, inputs_embeds=inputs_embeds, image_features=image_features)
        inputs_embeds = inputs_embeds.masked_scatter(mask, image_features)
        outputs = super().forward(inputs_embeds=inputs_embeds, **kwargs)
        outputs.image_hidden_states = image_features
        return outputs


class SpatialLlavaForConditionalGeneration(LlavaForConditionalGeneration):
    """LLaVA for generation with `SpatialLlavaModel` inside; takes `intrinsics` with the images."""

    config_class = SpatialLlavaConfig

    def __init__(self, config: SpatialLlavaConfig):
        # LlavaForConditionalGeneration.__init__ would build a plain LlavaModel first (a second
        # LLM in memory); build ours directly, with the same attribute names.
        LlavaPreTrainedModel.__init__(self, config)
        self.model = SpatialLlavaModel(config)
        self.lm_head = nn.Linear(config.text_config.hidden_size, config.text_config.vocab_size, bias=False)
        self.post_init()

    def forward(self, input_ids=None, pixel_values=None, attention_mask=None, position_ids=None,
                past_key_values=None, inputs_embeds=None, labels=None, logits_to_keep=0, intrinsics=None, **kwargs):
        """LLaVA's forward; `intrinsics` (B_images, 4) [fx, fy, cx, cy] go to the tower with
        `pixel_values` (LLaVA passes its extra keyword arguments on to `SpatialLlavaModel`)."""
        if intrinsics is not None:
            kwargs["intrinsics"] = intrinsics
        return super().forward(input_ids=input_ids, pixel_values=pixel_values, attention_mask=attention_mask,
                               position_ids=position_ids, past_key_values=past_key_values,
                               inputs_embeds=inputs_embeds, labels=labels, logits_to_keep=logits_to_keep, **kwargs)

    def prepare_inputs_for_generation(self, input_ids, past_key_values=None, inputs_embeds=None, pixel_values=None,
                                      attention_mask=None, logits_to_keep=None, is_first_iteration=False,
                                      intrinsics=None, **kwargs):  # fmt: skip
        inputs = super().prepare_inputs_for_generation(
            input_ids, past_key_values=past_key_values, inputs_embeds=inputs_embeds, pixel_values=pixel_values,
            attention_mask=attention_mask, logits_to_keep=logits_to_keep, is_first_iteration=is_first_iteration,
            **kwargs)  # fmt: skip
        if inputs.get("pixel_values") is not None and intrinsics is not None:
            inputs["intrinsics"] = intrinsics  # only with the images (first step)
        return inputs
