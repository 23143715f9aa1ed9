"""Attention weights out of a Transformers ViT that our models run themselves (both model types).

The tower runs the ViT's blocks in its own loop (pyramid tiles, tapped blocks) and the point-map
model keeps only some of the backbone's outputs, so neither can rely on the backbone's own
`output_attentions` path. `recorded_attentions` reads the same module Transformers' output
capture names (`_can_record_outputs["attentions"]`) with a forward hook.
"""

from __future__ import annotations

from contextlib import contextmanager

from transformers import PreTrainedModel
from transformers.utils import logging

logger = logging.get_logger(__name__)


@contextmanager
def recorded_attentions(backbone: PreTrainedModel, enabled: bool, keep_last: int):
    """Yields a list that collects each block's attention weights, (keep_last, heads, T, T) of the
    last `keep_last` items of the ViT's batch, while it runs (yields None when not `enabled`).

    SDPA computes no weights, so a call that asks for them runs eager attention (logged once);
    the attention implementation is restored on the way out.
    """
    if not enabled:
        yield None
        return
    recorded = []
    target = backbone._can_record_outputs["attentions"]
    hooks = [
        module.register_forward_hook(lambda module, args, output: recorded.append(output[1][-keep_last:]))
        for module in backbone.modules()
        if isinstance(module, target)
    ]
    config, asked = backbone.config, backbone.config._attn_implementation
    if asked != "eager":
        logger.warning_once(
            f"{asked} attention returns no attention weights: calls with output_attentions=True "
            "run eager attention (load with attn_implementation='eager' to run it always)"
        )
        config._attn_implementation = "eager"
    try:
        yield recorded
    finally:
        config._attn_implementation = asked
        for hook in hooks:
            hook.remove()


def output_flag(value: bool | None, default: bool) -> bool:
    """A call's `output_*` / `return_dict` flag: the argument when given, else the config's."""
    return default if value is None else bool(value)
