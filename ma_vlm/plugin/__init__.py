"""The depth-prior plugin: add Metric Anything features and metric depth to an existing MLLM.

    from ma_vlm.plugin import add_depth_prior, save_depth_prior, load_depth_prior
    add_depth_prior(llava, depth_model, mode="add", position_encoding_3d=True)
    llava(**inputs, depth_prior_pixel_values=..., depth_prior_intrinsics=...)

See `modeling_depth_prior` for modes and how it hooks into Transformers' models.
"""

from ma_vlm.plugin.configuration_depth_prior import DepthPriorConfig
from ma_vlm.plugin.families import ALL_MODES, FAMILIES
from ma_vlm.plugin.modeling_depth_prior import DepthPrior, add_depth_prior, update_image_token_count
from ma_vlm.plugin.processing import depth_prior_inputs
from ma_vlm.plugin.saving import freeze_all_but_depth_prior, load_depth_prior, save_depth_prior
from ma_vlm.plugin.tower import DepthTokens, run_depth_tower

__all__ = [
    "ALL_MODES",
    "FAMILIES",
    "DepthPrior",
    "DepthPriorConfig",
    "DepthTokens",
    "add_depth_prior",
    "depth_prior_inputs",
    "freeze_all_but_depth_prior",
    "load_depth_prior",
    "run_depth_tower",
    "save_depth_prior",
    "update_image_token_count",
]
