"""Metric Anything Student-PointMap in Transformers: metric point map, mask, depth and intrinsics.

Data path (one pass): `pixel_values` (B, 3, H, W) ImageNet-normalised at the image's own size ->
resized to a token grid of the image's aspect ratio (`num_tokens` / `resolution_level`) ->
Transformers' `Dinov2Model` -> 4 tapped blocks projected and summed -> conv neck with (u, v) maps
-> heads: affine point map (B, H, W, 3), mask logits, CLS -> metric scale. Then the camera:
focal length and z-shift by least squares on the point map (`ma_vlm.models.metric_anything_pointmap.camera_solver`), depth
= shifted z times the metric scale, points re-projected through the recovered intrinsics.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from transformers import Dinov2Model, PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from ma_vlm.errors import MaVlmInputError
from ma_vlm.models.attention_outputs import output_flag, recorded_attentions
from ma_vlm.models.cpu_heap import keeps_freed_memory_at_inference
from ma_vlm.models.metric_anything_pointmap.configuration_metric_anything_pointmap import MetricAnythingPointMapConfig
from ma_vlm.models.metric_anything_pointmap.layers import (
    PointMapConvStack,
    PointMapDinov2Embeddings,
    remap_points,
    view_plane_uv,
)


@dataclass
class MetricAnythingPointMapOutput(ModelOutput):
    """All maps at the size of `pixel_values` (H, W); camera frame OpenCV (x right, y down, z forward).

    points: (B, H, W, 3) metres, re-projected from `predicted_depth` through `intrinsics`.
    predicted_depth: (B, H, W) metric z-depth in metres (meaningful where `mask`).
    mask: (B, H, W) bool, valid pixels (mask probability > 0.5 and positive depth).
    mask_probability: (B, H, W) in [0, 1].
    intrinsics: (B, 4) [fx, fy, cx, cy] in pixels of `pixel_values`, pixel centres at integers.
    metric_scale: (B,) metres per point-map unit.
    affine_points: (B, H, W, 3) the head's point map before shift and scale (training target space).
    normals: (B, H, W, 3) unit normals when the checkpoint has a normal head.
    last_hidden_state: (B, 1 + N, D) final-normed CLS + patch tokens of the last tapped block.
    hidden_states: per-layer (B, 1 + N, D) tokens of the ViT (embeddings + every block, before the
        final norm; N = the token grid's rows x cols), when `output_hidden_states=True`.
    attentions: per-block (B, heads, 1 + N, 1 + N) attention weights, when `output_attentions=True`.
    """

    points: torch.FloatTensor | None = None
    predicted_depth: torch.FloatTensor | None = None
    mask: torch.BoolTensor | None = None
    mask_probability: torch.FloatTensor | None = None
    intrinsics: torch.FloatTensor | None = None
    metric_scale: torch.FloatTensor | None = None
    affine_points: torch.FloatTensor | None = None
    normals: torch.FloatTensor | None = None
    last_hidden_state: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


def token_grid(num_tokens: int, height: int, width: int) -> tuple[int, int]:
    """(rows, cols) of ViT tokens for `num_tokens` at the image's aspect ratio (published rounding)."""
    aspect_ratio = width / height
    return round((num_tokens / aspect_ratio) ** 0.5), round((num_tokens * aspect_ratio) ** 0.5)


class MetricAnythingPointMapPreTrainedModel(PreTrainedModel):
    config: MetricAnythingPointMapConfig
    config_class = MetricAnythingPointMapConfig
    base_model_prefix = "pointmap"
    main_input_name = "pixel_values"
    input_modalities = ("image",)
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _no_split_modules = ["Dinov2Layer"]

    @torch.no_grad()
    def _init_weights(self, module):
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)) and not hasattr(module, "_is_hf_initialized"):
            init.kaiming_uniform_(module.weight, a=5**0.5)  # torch's default
            if module.bias is not None:
                init.zeros_(module.bias)


class MetricAnythingForPointMapEstimation(MetricAnythingPointMapPreTrainedModel):
    """MoGe-2 as published in Metric Anything; see the module docstring for the data path."""

    def __init__(self, config: MetricAnythingPointMapConfig):
        super().__init__(config)
        config.validate_architecture()
        self.backbone = Dinov2Model(config.backbone_config)
        self.backbone.embeddings = PointMapDinov2Embeddings(config.backbone_config, config.interpolate_offset)
        width = config.backbone_config.hidden_size
        self.feature_projections = nn.ModuleList(
            nn.Conv2d(width, config.encoder_hidden_size, 1) for _ in config.intermediate_layers
        )
        levels = len(config.neck_hidden_sizes)
        norms = (config.res_block_in_norm, config.res_block_hidden_norm)
        self.neck = PointMapConvStack([config.encoder_hidden_size + 2] + [2] * (levels - 1), config.neck_hidden_sizes,
                                      [None] * levels, config.neck_num_res_blocks, config.neck_resamplers, *norms)
        heads = {"points_head": 3, "mask_head": 1 if config.use_mask_head else None,
                 "normal_head": 3 if config.use_normal_head else None}
        for name, channels in heads.items():
            if channels is not None:
                setattr(self, name, PointMapConvStack(
                    config.neck_hidden_sizes, config.head_hidden_sizes, [None] * (levels - 1) + [channels],
                    config.head_num_res_blocks, config.head_resamplers, *norms))
        if config.use_scale_head:
            sizes = [width, *config.scale_head_hidden_sizes, 1]
            layers = []
            for size_in, size_out in zip(sizes[:-1], sizes[1:]):
                layers += [nn.Linear(size_in, size_out), nn.ReLU()]
            self.scale_head = nn.Sequential(*layers[:-1])
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        """The ViT's patch embedding (Transformers' `Dinov2PatchEmbeddings`)."""
        return self.backbone.get_input_embeddings()

    def _encode(self, pixel_values: torch.Tensor, rows: int, cols: int):
        """(B, C, rows, cols) summed projections of the tapped blocks, the final-normed tokens, and
        the ViT's per-layer tokens.

        The resize runs in float32: antialiased bilinear interpolation has no half-precision CPU
        kernel, so a float16 / bfloat16 model resizes in float32 and casts to its own dtype.
        """
        patch = self.config.patch_size
        dtype = self.backbone.embeddings.patch_embeddings.projection.weight.dtype
        resized = F.interpolate(
            pixel_values.float(), (rows * patch, cols * patch), mode="bilinear", align_corners=False, antialias=True
        ).to(dtype)
        hidden_states = self.backbone(pixel_values=resized, output_hidden_states=True).hidden_states
        tapped = [self.backbone.layernorm(hidden_states[i + 1]) for i in self.config.intermediate_layers]
        features = sum(
            projection(tokens[:, 1:].transpose(1, 2).unflatten(2, (rows, cols)))
            for projection, tokens in zip(self.feature_projections, tapped)
        )
        return features, tapped[-1], hidden_states

    @keeps_freed_memory_at_inference
    def forward(
        self,
        pixel_values: torch.Tensor,
        num_tokens: int | None = None,
        resolution_level: int = 9,
        fov_x_deg=None,
        focal_length_px=None,
        force_projection: bool = True,
        recover_camera: bool = True,
        return_dict: bool | None = None,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        **kwargs,
    ) -> MetricAnythingPointMapOutput | tuple:
        """pixel_values: (B, 3, H, W) ImageNet-normalised RGB at the image's own size (the camera is
        recovered in its pixels). num_tokens: ViT tokens (default from `resolution_level` 0..9 and
        `config.num_tokens_range`). fov_x_deg / focal_length_px: a known horizontal field of view
        (degrees) or focal length (pixels), scalar or (B,); then only the shift is solved.
        force_projection: re-project points through the intrinsics (published default).
        recover_camera: False skips the (non-differentiable) camera fit, for training: only
        `affine_points`, `mask_probability`, `metric_scale`, `normals` and tokens are returned."""
        if pixel_values.ndim != 4 or pixel_values.shape[1] != 3:
            raise MaVlmInputError(f"pixel_values must be (B, 3, H, W), got {tuple(pixel_values.shape)}")
        batch, _, height, width = pixel_values.shape
        if num_tokens is None:
            num_tokens = self.config.num_tokens_for(resolution_level)
        rows, cols = token_grid(num_tokens, height, width)
        output_attentions = output_flag(output_attentions, self.config.output_attentions)
        with recorded_attentions(self.backbone, output_attentions, batch) as attentions:
            features, tokens, hidden_states = self._encode(pixel_values, rows, cols)
        aspect_ratio = width / height
        levels = []
        for level in range(len(self.config.neck_hidden_sizes)):
            uv = view_plane_uv(rows * 2**level, cols * 2**level, aspect_ratio, features.dtype, features.device)
            uv = uv.unsqueeze(0).expand(batch, -1, -1, -1)
            levels.append(torch.cat([features, uv], dim=1) if level == 0 else uv)
        neck = self.neck(levels)

        def head(name):
            if not hasattr(self, name):
                return None
            return F.interpolate(getattr(self, name)(neck)[-1], (height, width), mode="bilinear", align_corners=False)

        affine_points = remap_points(head("points_head").permute(0, 2, 3, 1), self.config.remap_output)
        mask_logits, normals = head("mask_head"), head("normal_head")
        mask_probability = mask_logits.squeeze(1).sigmoid() if mask_logits is not None else None
        if normals is not None:
            normals = F.normalize(normals.permute(0, 2, 3, 1), dim=-1)
        metric_scale = (self.scale_head(tokens[:, 0]).squeeze(1).exp() if hasattr(self, "scale_head")
                        else torch.ones(batch, device=features.device))
        camera = {}
        if recover_camera:
            camera = self.recover_camera(affine_points, mask_probability, metric_scale, fov_x_deg, focal_length_px,
                                         force_projection)
        output = MetricAnythingPointMapOutput(
            **camera, mask_probability=mask_probability, metric_scale=metric_scale,
            affine_points=affine_points, normals=normals, last_hidden_state=tokens,
            hidden_states=hidden_states if output_flag(output_hidden_states, self.config.output_hidden_states) else None,
            attentions=tuple(attentions) if attentions is not None else None,
        )
        return output if output_flag(return_dict, self.config.return_dict) else output.to_tuple()

    def recover_camera(self, affine_points, mask_probability, metric_scale, fov_x_deg=None, focal_length_px=None,
                       force_projection: bool = True) -> dict:
        """Intrinsics, shift, metric depth and points from the affine point map (fp32, no grad).

        The fit runs in torch on the map's device (`camera_solver_torch`), so the whole
        forward traces (torch.export, ONNX); `camera_solver="published"` repeats the official code's
        SciPy fit instead (eager only)."""
        from ma_vlm.geometry import backproject
        from ma_vlm.models.metric_anything_pointmap.camera_solver_torch import recover_focal_shift

        batch, height, width, _ = affine_points.shape
        points = affine_points.detach().float()
        mask = mask_probability.detach() > 0.5 if mask_probability is not None else torch.ones_like(points[..., 0]).bool()
        known = _known_focal(fov_x_deg, focal_length_px, width, batch)
        if self.config.camera_solver == "published":
            focal_t, shift_t = _published_focal_shift(points, mask, known)
        else:
            known_t = None if known is None else torch.tensor(known, dtype=torch.float32, device=points.device)
            focal_t, shift_t = recover_focal_shift(points, mask, known_t)
        centre = torch.tensor([(width - 1) / 2, (height - 1) / 2], dtype=torch.float32, device=points.device)
        intrinsics = torch.cat([focal_t[:, None].expand(-1, 2), centre.expand(batch, -1)], dim=1)
        depth = points[..., 2] + shift_t[:, None, None]
        mask = mask & (depth > 0)
        if force_projection:
            points = backproject(depth, intrinsics)
        else:
            points = torch.cat([points[..., :2], depth[..., None]], dim=-1)
        scale = metric_scale.detach().float()  # (B,)
        return {"points": points * scale[:, None, None, None], "predicted_depth": depth * scale[:, None, None],
                "mask": mask, "intrinsics": intrinsics}


def _published_focal_shift(points: torch.Tensor, mask: torch.Tensor, known):
    """(B,) focal lengths and shifts by the official code's SciPy fit, image by image (NumPy)."""
    from ma_vlm.models.metric_anything_pointmap.camera_solver import recover_intrinsics

    batch, height, width, _ = points.shape
    points_np, mask_np = points.cpu().numpy(), mask.cpu().numpy()
    focal, shift = [], []
    for i in range(batch):
        if mask_np[i].sum() < 3:  # nothing to fit: the published code's fallback (f = half diagonal)
            focal.append(known[i] if known is not None else math.hypot(width, height) / 2)
            shift.append(0.0)
            continue
        solution = recover_intrinsics(points_np[i], mask_np[i], focal_length_px=None if known is None else known[i],
                                      solver="published")
        focal.append(solution.focal_length_px)
        shift.append(solution.shift)
    as_tensor = functools.partial(torch.tensor, dtype=torch.float32, device=points.device)
    return as_tensor(focal), as_tensor(shift)


def _known_focal(fov_x_deg, focal_length_px, width: int, batch: int):
    """(B,) known focal lengths in pixels, or None."""
    if fov_x_deg is not None and focal_length_px is not None:
        raise MaVlmInputError("give fov_x_deg or focal_length_px, not both")
    if fov_x_deg is None and focal_length_px is None:
        return None
    values = np.broadcast_to(np.asarray(
        fov_x_deg if fov_x_deg is not None else focal_length_px, dtype=np.float64).reshape(-1), (batch,))
    if not np.all(np.isfinite(values)) or np.any(values <= 0) or (fov_x_deg is not None and np.any(values >= 180)):
        name = "fov_x_deg (0, 180) degrees" if fov_x_deg is not None else "focal_length_px (> 0 pixels)"
        raise MaVlmInputError(f"{name} must be finite and in range, got {values.tolist()}")
    if fov_x_deg is not None:
        values = width / 2 / np.tan(np.radians(values) / 2)
    return [float(v) for v in values]


__all__ = ["MetricAnythingForPointMapEstimation", "MetricAnythingPointMapOutput", "token_grid"]
