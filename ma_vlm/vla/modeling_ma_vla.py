"""`MAVLAPolicy`: a Metric Anything vision-language-action policy for LeRobot.

Read top to bottom: pieces that turn each input into tokens (cameras through the Metric
Anything tower, the instruction through a frozen text encoder, the robot state), the context
encoder that mixes them, the flow-matching action expert, the depth-distillation head, and the
policy (`forward` = training loss, `predict_action_chunk`, `select_action` from a queue).

Data flows one way: images -> tower tokens -> context -> action expert; the depth head only
reads the context at the visual tokens and only during training.

No `from __future__ import annotations` here: LeRobot's factory reads the real config class from
`inspect.signature(MAVLAPolicy.__init__)`'s `config` annotation.
"""

import math
from collections import deque
from pathlib import Path

import torch
import torch.nn.functional as F
from lerobot.policies.pretrained import PreTrainedPolicy
from torch import Tensor, nn

from ma_vlm.errors import MaVlmInputError
from ma_vlm.vla.configuration_ma_vla import MAVLAConfig
from ma_vlm.vla.features import (
    ACTION_KEY,
    ACTION_PAD_KEY,
    DEPTH_PREFIX,
    INTRINSICS_INFO_KEY,
    LANGUAGE_MASK_KEY,
    LANGUAGE_TOKENS_KEY,
    METRES_PER_UNIT,
    STATE_KEY,
    depth_key,
    image_key,
    intrinsics_from_features,
)
from ma_vlm.vla.text import load_text_encoder

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PATCH_SIZE = 16
# Token depth is compared in log space and clipped: MetaWorld's far plane (~113 m, background)
# would otherwise dominate an L1 loss on metres.
LOG_DEPTH_RANGE = (math.log(0.05), math.log(20.0))


def build_tower(config: MAVLAConfig) -> nn.Module:
    """The Metric Anything tower in single-pass mode, from `tower_path` or a preset."""
    from ma_vlm.models.metric_anything import MetricAnythingModel, preset_config

    if not config.tower_path:
        return MetricAnythingModel(preset_config(config.tower_preset, use_pyramid=False))
    if not Path(config.tower_path).exists():
        raise MaVlmInputError(
            f"tower_path {config.tower_path!r} does not exist; give a Metric Anything model folder "
            "(e.g. outputs/pretrain-small/student/model) or leave it empty for a preset"
        )
    return MetricAnythingModel.from_pretrained(config.tower_path, use_pyramid=False)


def token_depth_from_map(depth_m: Tensor, size: int) -> Tensor:
    """(B, H, W), (B, 1, H, W) or (B, H, W, 1) metres -> (B, (size/16)^2) mean metric depth per tower token.

    The map is resized to the tower input (nearest: no blending across depth edges) and averaged
    over each 16x16 patch; 0 (no depth) pixels are left out, a token with none is 0.
    """
    if depth_m.ndim == 4:
        depth_m = depth_m[..., 0] if depth_m.shape[-1] == 1 else depth_m[:, 0]
    depth = F.interpolate(depth_m[:, None].float(), size=(size, size), mode="nearest")
    valid = (depth > 0).float()
    total = F.avg_pool2d(depth * valid, PATCH_SIZE)
    count = F.avg_pool2d(valid, PATCH_SIZE)
    return torch.where(count > 0, total / count.clamp_min(1e-6), torch.zeros_like(total)).flatten(1)


def log_depth(token_depth: Tensor) -> Tensor:
    return token_depth.clamp_min(1e-3).log().clamp(*LOG_DEPTH_RANGE)


class TimestepEmbedding(nn.Module):
    """Flow time t in [0, 1] -> (B, D) sinusoidal features through an MLP."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.mlp = nn.Sequential(nn.Linear(hidden_size, hidden_size), nn.SiLU(), nn.Linear(hidden_size, hidden_size))

    def forward(self, time: Tensor) -> Tensor:
        half = self.hidden_size // 2
        frequencies = torch.exp(-math.log(1000.0) * torch.arange(half, device=time.device) / half)
        angles = time[:, None].float() * 1000.0 * frequencies[None]
        return self.mlp(torch.cat([angles.sin(), angles.cos()], dim=-1))


class ContextEncoder(nn.Module):
    """[instruction tokens, state token, visual tokens per camera] -> (B, L, D) context."""

    def __init__(self, config: MAVLAConfig, tower_width: int, text_width: int, state_dim: int, num_cameras: int):
        super().__init__()
        size = config.hidden_size
        self.visual_projection = nn.Linear(tower_width, size)
        self.text_projection = nn.Linear(text_width, size)
        self.state_projection = nn.Linear(state_dim, size)
        self.camera_embedding = nn.Parameter(torch.zeros(num_cameras, size))
        num_tokens = (config.tower_image_size // PATCH_SIZE) ** 2
        self.token_position = nn.Parameter(torch.randn(num_tokens, size) * 0.02)
        self.depth_projection = nn.Linear(1, size) if config.depth_input else None
        layer = nn.TransformerEncoderLayer(
            size, config.num_attention_heads, config.intermediate_size, dropout=0.0, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, config.num_context_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(size)

    def forward(self, text_states, text_mask, state, visual_tokens, token_depths=None):
        """text_states (B, L, Dt), text_mask (B, L) 1 = token, state (B, S), visual_tokens: per camera
        (B, N, Dv) patch tokens, token_depths: per camera (B, N) metres (depth_input only).
        Returns context (B, L + 1 + C*N, D), its padding mask (True = pad), and where the
        visual tokens start."""
        parts = [self.text_projection(text_states), self.state_projection(state)[:, None]]
        for index, tokens in enumerate(visual_tokens):
            visual = self.visual_projection(tokens) + self.token_position + self.camera_embedding[index]
            if self.depth_projection is not None:
                visual = visual + self.depth_projection(log_depth(token_depths[index])[..., None])
            parts.append(visual)
        context = torch.cat(parts, dim=1)
        batch = state.shape[0]
        keep = torch.cat([text_mask.bool(), torch.ones(batch, context.shape[1] - text_mask.shape[1], dtype=torch.bool, device=state.device)], 1)
        context = self.norm(self.encoder(context, src_key_padding_mask=~keep))
        return context, ~keep, text_states.shape[1] + 1


class FlowMatchingActionExpert(nn.Module):
    """Predicts the flow velocity of a noisy action chunk, cross-attending to the context.

    Flow matching as in pi0: x_t = t * noise + (1 - t) * actions, target velocity
    u = noise - actions; sampling integrates from t = 1 (noise) to t = 0 (actions).
    """

    def __init__(self, config: MAVLAConfig, action_dim: int):
        super().__init__()
        size = config.hidden_size
        self.action_in = nn.Linear(action_dim, size)
        self.time_embedding = TimestepEmbedding(size)
        self.chunk_position = nn.Parameter(torch.randn(config.chunk_size, size) * 0.02)
        layer = nn.TransformerDecoderLayer(
            size, config.num_attention_heads, config.intermediate_size, dropout=0.0, batch_first=True, norm_first=True
        )
        self.decoder = nn.TransformerDecoder(layer, config.num_expert_layers)
        self.action_out = nn.Sequential(nn.LayerNorm(size), nn.Linear(size, action_dim))

    def forward(self, noisy_actions: Tensor, time: Tensor, context: Tensor, context_pad: Tensor) -> Tensor:
        """noisy_actions (B, T, A), time (B,), context (B, L, D) -> velocity (B, T, A)."""
        hidden = self.action_in(noisy_actions) + self.chunk_position + self.time_embedding(time)[:, None]
        hidden = self.decoder(hidden, context, memory_key_padding_mask=context_pad)
        return self.action_out(hidden)


class MAVLAPolicy(PreTrainedPolicy):
    """Metric Anything VLA: tower tokens + instruction + state -> flow-matching action chunks."""

    config_class = MAVLAConfig
    name = "ma_vla"

    def __init__(self, config: MAVLAConfig, dataset_meta=None, **kwargs):
        super().__init__(config)
        if dataset_meta is not None:
            config.camera_intrinsics = intrinsics_from_features(dataset_meta.features) or config.camera_intrinsics
        config.validate_features()  # may turn distillation off (one logged line) on an RGB-only dataset
        self.config = config
        self.cameras = config.camera_names
        state_dim = config.robot_state_feature.shape[-1]
        action_dim = config.action_feature.shape[-1]
        self.tower = build_tower(config)
        self.tower.requires_grad_(not config.freeze_tower)
        # Frozen helpers live outside the module tree: they are not trained and not saved in
        # model.safetensors (they load from their own folders), and `.to()` moves them lazily.
        self._frozen = {"text": load_text_encoder(config.text_model), "teacher": None}
        text_width = self._frozen["text"].config.hidden_size
        self.context_encoder = ContextEncoder(config, self.tower.config.hidden_size, text_width, state_dim, len(self.cameras))
        self.action_expert = FlowMatchingActionExpert(config, action_dim)
        self.depth_head = (
            nn.Sequential(nn.Linear(config.hidden_size, config.hidden_size), nn.GELU(), nn.Linear(config.hidden_size, 1))
            if config.distill_depth
            else None
        )
        self.register_buffer("image_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("image_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.reset()

    # ----- LeRobot interface -------------------------------------------------------------
    def get_optim_params(self):
        return [p for p in self.parameters() if p.requires_grad]

    def reset(self):
        """Call when the environment resets: drops queued actions."""
        self._action_queue = deque([], maxlen=self.config.n_action_steps)

    def forward(self, batch: dict[str, Tensor], reduction: str = "mean") -> tuple[Tensor, dict]:
        """Training loss: flow matching on the action chunk (+ weighted token-depth distillation).

        batch: normalised `action` (B, T, A), `action_is_pad` (B, T), images (B, 3, H, W) in
        [0, 1], `observation.state` (B, S), language tokens/mask (B, L), and depth
        `observation.depth.<camera>` (B, H, W, 1) metres when the config needs it.
        """
        self._check_batch(batch, training=True)
        actions = batch[ACTION_KEY]
        context, context_pad, visual_start = self._encode(batch)
        noise = torch.randn_like(actions)
        time = torch.distributions.Beta(1.5, 1.0).sample((actions.shape[0],)).to(actions) * 0.999 + 0.001
        noisy = time[:, None, None] * noise + (1 - time[:, None, None]) * actions
        velocity = self.action_expert(noisy, time, context, context_pad)
        error = F.mse_loss(velocity, noise - actions, reduction="none").mean(-1)  # (B, T)
        valid = ~batch[ACTION_PAD_KEY] if ACTION_PAD_KEY in batch else torch.ones_like(error, dtype=torch.bool)
        action_loss = (error * valid).sum() / valid.sum().clamp_min(1)
        loss, logs = action_loss, {"action_loss": action_loss.item()}
        if self.depth_head is not None and self.training:
            depth_loss = self._depth_distillation_loss(batch, context[:, visual_start:])
            loss = loss + self.config.depth_loss_weight * depth_loss
            logs["depth_loss"] = depth_loss.item()
        return loss, logs

    @torch.no_grad()
    def predict_action_chunk(self, batch: dict[str, Tensor], **kwargs) -> Tensor:
        """(B, chunk_size, A) normalised actions: Euler integration of the flow from noise."""
        self.eval()
        self._check_batch(batch, training=False)
        context, context_pad, _ = self._encode(batch)
        batch_size = context.shape[0]
        actions = torch.randn(batch_size, self.config.chunk_size, self.config.action_feature.shape[-1], device=context.device)
        step = 1.0 / self.config.num_flow_steps
        for index in range(self.config.num_flow_steps):
            time = torch.full((batch_size,), 1.0 - index * step, device=context.device)
            actions = actions - step * self.action_expert(actions, time, context, context_pad)
        return actions

    @torch.no_grad()
    def select_action(self, batch: dict[str, Tensor], **kwargs) -> Tensor:
        """One (B, A) action per call; a new chunk is predicted when the queue runs dry."""
        self.eval()
        if not self._action_queue:
            chunk = self.predict_action_chunk(batch)[:, : self.config.n_action_steps]
            self._action_queue.extend(chunk.transpose(0, 1))
        return self._action_queue.popleft()

    # ----- pieces ---------------------------------------------------------------------------
    def _check_batch(self, batch: dict, training: bool) -> None:
        needed = [image_key(camera) for camera in self.cameras] + [STATE_KEY, LANGUAGE_TOKENS_KEY]
        if self.config.depth_input or (training and self.config.needs_depth_key):
            needed += [depth_key(camera) for camera in self.cameras]
        if training:
            needed.append(ACTION_KEY)
        missing = [key for key in needed if key not in batch]
        if missing:
            depth_hint = ("; under lerobot-eval --env.type=ma_metaworld pass --env.with_depth=true"
                          if any(key.startswith(DEPTH_PREFIX) for key in missing) else "")
            raise MaVlmInputError(
                f"the batch lacks {missing}; run it through make_ma_vla_pre_post_processors' preprocessor "
                f"(it tokenises `task`) and feed the features the config names (has: {sorted(batch)}){depth_hint}"
            )

    def _images(self, batch: dict, camera: str) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, 3, S, S) ImageNet-normalised at the tower size."""
        images = batch[image_key(camera)].float()
        size = self.config.tower_image_size
        if images.shape[-2:] != (size, size):
            images = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        return (images - self.image_mean) / self.image_std

    def _depth_m(self, batch: dict, camera: str) -> Tensor:
        """The camera's depth map in metres (LeRobot returns `config.depth_unit`)."""
        return batch[depth_key(camera)].float() * METRES_PER_UNIT[self.config.depth_unit]

    def _encode(self, batch: dict) -> tuple[Tensor, Tensor, int]:
        visual_tokens = []
        for camera in self.cameras:
            with torch.set_grad_enabled(self.training and not self.config.freeze_tower):
                tower = self.tower(pixel_values=self._images(batch, camera), return_dict=True)
            visual_tokens.append(tower.last_hidden_state[:, 1:])  # drop CLS: one token per patch
        token_depths = None
        if self.config.depth_input:
            token_depths = [token_depth_from_map(self._depth_m(batch, c), self.config.tower_image_size) for c in self.cameras]
        tokens, mask = batch[LANGUAGE_TOKENS_KEY], batch[LANGUAGE_MASK_KEY]
        text_states = self._text_states(tokens, mask)
        state = batch[STATE_KEY].float()
        return self.context_encoder(text_states, mask, state, visual_tokens, token_depths)

    @torch.no_grad()
    def _text_states(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """(B, L) token ids -> (B, L, Dt) frozen text-encoder states, cached per instruction:
        a dataset has a handful of instructions, and the encoder is frozen, so each is encoded once."""
        cache = self._frozen.setdefault("text_cache", {})
        keys = [tuple(row) for row in tokens.tolist()]
        new = [index for index, key in enumerate(keys) if key not in cache]
        if new:
            text = self._frozen["text"].to(tokens.device)
            states = text(input_ids=tokens[new], attention_mask=mask[new]).last_hidden_state
            cache.update({keys[index]: state for index, state in zip(new, states)})
        return torch.stack([cache[key] for key in keys]).to(tokens.device)

    def _depth_distillation_loss(self, batch: dict, visual_context: Tensor) -> Tensor:
        """L1 in log metres between the head's per-token depth and the teacher's `token_depth`."""
        predicted = self.depth_head(visual_context).squeeze(-1)  # (B, C*N) log metres
        target = torch.cat([self._token_depth_target(batch, camera) for camera in self.cameras], dim=1)
        valid = target > 0
        error = (predicted - log_depth(target)).abs()
        return (error * valid).sum() / valid.sum().clamp_min(1)

    @torch.no_grad()
    def _token_depth_target(self, batch: dict, camera: str) -> Tensor:
        """(B, N) metres per tower token: from the frozen teacher, or the recorded metric depth."""
        size = self.config.tower_image_size
        if not self.config.depth_teacher_path:
            return token_depth_from_map(self._depth_m(batch, camera), size)
        teacher = self._teacher()
        images = batch[image_key(camera)].float()
        teacher_size = teacher.config.image_size
        pixel_values = F.interpolate(images, size=(teacher_size, teacher_size), mode="bilinear", antialias=True)
        pixel_values = (pixel_values - self.image_mean) / self.image_std
        scale = torch.tensor([teacher_size / images.shape[-1], teacher_size / images.shape[-2]] * 2)
        intrinsics = (torch.tensor(self._intrinsics(camera)) * scale).expand(images.shape[0], 4).to(images)
        output = teacher(pixel_values=pixel_values, intrinsics=intrinsics)
        if output.token_depth is not None and output.token_depth.shape[1] == (size // PATCH_SIZE) ** 2:
            return output.token_depth  # the tower's one-pass token depth, on the policy's own grid
        # otherwise the teacher's tokens sit on another grid: pool its dense metric depth instead
        return token_depth_from_map(output.predicted_depth, size)

    def _teacher(self) -> nn.Module:
        if self._frozen["teacher"] is None:
            from ma_vlm.models.metric_anything import MetricAnythingForDepthEstimation

            path = self.config.depth_teacher_path
            if not Path(path).exists():
                raise MaVlmInputError(f"depth_teacher_path {path!r} does not exist; give a Metric Anything depth model folder")
            teacher = MetricAnythingForDepthEstimation.from_pretrained(path).eval().requires_grad_(False)
            self._frozen["teacher"] = teacher
        return self._frozen["teacher"].to(self.image_mean.device)

    def _intrinsics(self, camera: str) -> list[float]:
        intrinsics = getattr(self.config, "camera_intrinsics", None) or {}
        if camera not in intrinsics:
            raise MaVlmInputError(
                f"the depth teacher needs camera {camera!r}'s intrinsics [fx, fy, cx, cy]; the dataset's "
                f"image features carry `info.{INTRINSICS_INFO_KEY}` for {sorted(intrinsics)} (ma-vlm vla demos writes it)"
            )
        return intrinsics[camera]
