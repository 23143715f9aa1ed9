"""The ViT config of the tower: Transformers' DINOv3 config under a model type of its own."""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import DINOv3ViTConfig

from ma_vlm.registration import ensure_registered


@strict
class MetricAnythingViTConfig(DINOv3ViTConfig):
    """Transformers' DINOv3 ViT config under a model_type of its own.

    Why: when Transformers loads a composite model (our tower inside LLaVA), it applies every
    sub-model's hub-checkpoint key renaming to *all* keys, and DINOv3's regex (`layer.` ->
    `model.layer.`) also rewrites the language model's `layers.` and `layernorm`. Our checkpoints
    are already in Transformers' layout, so the backbone opts out by not being `dinov3_vit`.
    The model class is still Transformers' own `DINOv3ViTModel`.
    """

    model_type = "metric_anything_vit"

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        ensure_registered(self.model_type)  # AutoConfig knows the type once one exists (ma_vlm.registration)
