"""Depth side of Metric Anything: neck (projections of ViT maps), fusion decoder, head.

Layout and module names follow the official Student-DepthMap checkpoint (its `encoder.*` neck,
`decoder.*` fusion stages and `head.*`), so its state dict maps by renaming prefixes only. The
prompt-based teacher (`use_prompt=True`) adds one `prompt_depth_layer` per fusion stage, named as
in Transformers' Prompt Depth Anything.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ma_vlm.errors import MaVlmInputError
from ma_vlm.models.metric_anything.configuration_metric_anything import HEAD_ACTIVATIONS, MetricAnythingConfig


def _project_upsample(in_dim: int, out_dim: int, steps: int) -> nn.Sequential:
    """1x1 conv to `out_dim`, then `steps` x (2x2 transposed conv, stride 2); no biases."""
    layers = [nn.Conv2d(in_dim, out_dim, kernel_size=1, bias=False)]
    layers += [nn.ConvTranspose2d(out_dim, out_dim, kernel_size=2, stride=2, bias=False) for _ in range(steps)]
    return nn.Sequential(*layers)


class MetricAnythingNeck(nn.Module):
    """Projects the tower's maps to decoder inputs, in the official order
    [tap0, tap1, tap2, tap3, level0, level1, global]."""

    def __init__(self, config: MetricAnythingConfig):
        super().__init__()
        vit_dim = config.hidden_size
        for index, (dim, steps) in enumerate(zip(config.tap_feature_dims, config.tap_upsample_steps)):
            setattr(self, f"upsample_latent{index}", _project_upsample(vit_dim, dim, steps))
        level_dims, level_steps = config.level_feature_dims, config.level_upsample_steps
        self.upsample0 = _project_upsample(vit_dim, level_dims[0], level_steps[0])
        self.upsample1 = _project_upsample(vit_dim, level_dims[1], level_steps[1])
        self.upsample2 = _project_upsample(vit_dim, level_dims[2], level_steps[2])
        self.upsample_lowres = nn.ConvTranspose2d(vit_dim, level_dims[2], kernel_size=2, stride=2, bias=True)
        self.fuse_lowres = nn.Conv2d(2 * level_dims[2], level_dims[2], kernel_size=1, bias=True)

    def forward(self, tap_features, level_features) -> list[torch.Tensor]:
        latents = [getattr(self, f"upsample_latent{i}")(tap) for i, tap in enumerate(tap_features)]
        full, half, quarter = level_features
        global_features = self.fuse_lowres(torch.cat([self.upsample2(quarter), self.upsample_lowres(quarter)], dim=1))
        return [*latents, self.upsample0(full), self.upsample1(half), global_features]


class ResidualConvUnit(nn.Module):
    """x + conv(relu(conv(relu(x)))), 3x3 convs with bias (official keys residual.1 / residual.3)."""

    def __init__(self, dim: int):
        super().__init__()
        self.residual = nn.Sequential(
            nn.ReLU(),  # not in place: x is still needed for the sum
            nn.Conv2d(dim, dim, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),  # in place on a fresh conv output: no full-size copy
            nn.Conv2d(dim, dim, kernel_size=3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The sum lands in the conv's fresh output: one full-size map fewer per unit (a conv's
        # backward does not read its output, so training is unaffected).
        return self.residual(x).add_(x)


# Channels of the prompt the decoder reads: densified canonical inverse depth and its support
# (`ma_vlm.models.metric_anything.prompt_fusion.densify_prompt`).
PROMPT_CHANNELS = 2


class MetricAnythingPromptLayer(nn.Module):
    """Sparse-prompt features added to a fusion stage: conv3x3 -> ReLU -> conv3x3 -> ReLU ->
    conv3x3 (as Transformers' `PromptDepthAnythingLayer`, with 2 input channels). The last
    convolution is zero-initialised (`_init_weights`), so a new teacher equals its student."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.convolution1 = nn.Conv2d(PROMPT_CHANNELS, hidden, kernel_size=3, padding=1)
        self.activation1 = nn.ReLU()
        self.convolution2 = nn.Conv2d(hidden, hidden, kernel_size=3, padding=1)
        self.activation2 = nn.ReLU()
        self.convolution3 = nn.Conv2d(hidden, dim, kernel_size=3, padding=1)

    def forward(self, prompt: torch.Tensor) -> torch.Tensor:
        hidden = self.activation1(self.convolution1(prompt))
        return self.convolution3(self.activation2(self.convolution2(hidden)))


class FusionBlock(nn.Module):
    """Adds a (refined) skip to the running decoder map, refines, adds prompt features (teacher),
    optionally upsamples 2x."""

    def __init__(self, dim: int, upsample: bool, has_skip: bool = True, prompt_hidden: int | None = None):
        super().__init__()
        self.resnet1 = ResidualConvUnit(dim) if has_skip else None
        self.resnet2 = ResidualConvUnit(dim)
        self.deconv = nn.ConvTranspose2d(dim, dim, kernel_size=2, stride=2, bias=False) if upsample else None
        self.out_conv = nn.Conv2d(dim, dim, kernel_size=1, bias=True)
        self.prompt_depth_layer = MetricAnythingPromptLayer(dim, prompt_hidden) if prompt_hidden else None

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None,
                prompt: torch.Tensor | None = None) -> torch.Tensor:
        if skip is not None:
            x = self.resnet1(skip).add_(x)
        x = self.resnet2(x)
        if prompt is not None and self.prompt_depth_layer is not None:
            pooled = F.adaptive_avg_pool2d(prompt, x.shape[-2:]).to(x.dtype)
            # Images whose prompt is empty get no prompt features: an all-zero prompt == no prompt.
            present = (pooled[:, 1:].amax(dim=(1, 2, 3)) > 0).to(x.dtype).view(-1, 1, 1, 1)
            x = x + self.prompt_depth_layer(pooled) * present
        if self.deconv is not None:
            x = self.deconv(x)
        return self.out_conv(x)


# For fusion stage i, which neck output it takes (official `id`), and whether it upsamples.
_STAGE_INPUT = (4, 3, 2, 1, 0, 5, 6)
_STAGE_UPSAMPLES = (False, True, False, False, True, True, True)


class MetricAnythingDecoder(nn.Module):
    """Multi-resolution fusion decoder: global (S/32) -> ... -> S/2, `decoder_hidden_size` channels."""

    def __init__(self, config: MetricAnythingConfig):
        super().__init__()
        dim = config.decoder_hidden_size
        neck_dims = [*config.tap_feature_dims, *config.level_feature_dims]
        self.convs = nn.ModuleList(
            nn.Conv2d(neck_dims[source], dim, kernel_size=3, padding=1, bias=False) for source in _STAGE_INPUT
        )
        prompt_hidden = (config.prompt_hidden_size or dim) if config.use_prompt else None
        self.fusions = nn.ModuleList(
            FusionBlock(dim, upsample, has_skip=stage != 6, prompt_hidden=prompt_hidden)
            for stage, upsample in enumerate(_STAGE_UPSAMPLES)
        )

    def forward(self, features: list[torch.Tensor], prompt: torch.Tensor | None = None) -> torch.Tensor:
        """features: the neck's 7 maps -> (B, decoder_hidden_size, S/2, S/2).

        prompt (teacher only): (B, 2, S, S) [densified canonical inverse depth f / (S * depth_m),
        support in [0, 1]] (`densify_prompt`); each stage reads it average-pooled to its own size.
        """
        x = self.fusions[6](self.convs[6](features[_STAGE_INPUT[6]]), prompt=prompt)
        for stage in range(5, -1, -1):
            x = self.fusions[stage](x, self.convs[stage](features[_STAGE_INPUT[stage]]), prompt=prompt)
        return x


class ExpActivation(nn.Module):
    """exp(clamp(z, -12, 6)): a log-space head's output, canonical inverse depth in [6e-6, 403]."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.exp(z.clamp(-12.0, 6.0))


def head_activation_module(name: str) -> nn.Module:
    """The head's last activation: "relu" (published) or "exp" (`ExpActivation`)."""
    if name not in HEAD_ACTIVATIONS:
        raise MaVlmInputError(f"head_activation {name!r} is not one of {HEAD_ACTIVATIONS}; 'relu' is the "
                              "published model, 'exp' predicts log canonical inverse depth")
    return nn.ReLU() if name == "relu" else ExpActivation()


class MetricAnythingHead(nn.Sequential):
    """(B, C, S/2, S/2) -> (B, 1, S, S) canonical inverse depth >= 0 (official indices 0..13).

    The last activation is `config.head_activation`: ReLU as published, or exp (`ExpActivation`).
    """

    def __init__(self, config: MetricAnythingConfig):
        dim, hidden = config.decoder_hidden_size, config.head_hidden_size
        layers = [
            nn.Conv2d(dim, dim // 2, kernel_size=3, padding=1),
            nn.ConvTranspose2d(dim // 2, dim // 2, kernel_size=2, stride=2, bias=True),
            nn.Conv2d(dim // 2, hidden, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
        ]
        # In-place ReLUs: at full resolution an out-of-place one writes a new S x S map each time
        # (the largest single cost of the head on CPU, as profiled).
        for _ in range(4):
            layers += [nn.Conv2d(hidden, hidden, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
        # The last one stays out of place (one channel, cheap): training reads its input through a
        # forward hook on the conv before it (pretrain.distill.capture_head_pre_activation).
        layers += [nn.Conv2d(hidden, 1, kernel_size=1), head_activation_module(config.head_activation)]
        super().__init__(*layers)
