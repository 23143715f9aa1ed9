"""A straightforward re-implementation of the official Student-DepthMap forward, working directly
on an official-format state dict (the checkpoint's own key names and layout, see
docs/architecture.md). It is the oracle of the parity tests and the baseline of perf/encoder_speed.py.

Deliberately as plain as the official code: fused qkv with a bias mask, RoPE by hand, forward
hooks on blocks for the taps, and all 35 tiles sent through the ViT in one batched call (as the
official encoder does), out-of-place ReLUs in the decoder.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

VIT = "encoder.patch_encoder."


# ----------------------------------------------------------------------------- checkpoint maker
def make_official_state_dict(
    hidden=32, heads=2, depth=32, ffn_hidden=64, registers=4, patch=16,
    tap_dims=(16, 16, 16, 16), level_dims=(16, 16, 32), decoder=16, head_hidden=8, seed=0,
) -> dict[str, torch.Tensor]:
    """Random weights under the official key names and layouts (a tiny Student-DepthMap)."""
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=None):
        fan_in = math.prod(shape[1:]) if len(shape) > 1 else shape[0]
        scale = scale if scale is not None else 1 / math.sqrt(fan_in)
        return torch.randn(*shape, generator=generator) * scale

    state = {
        f"{VIT}cls_token": rand(1, 1, hidden, scale=0.5),
        f"{VIT}storage_tokens": rand(1, registers, hidden, scale=0.5),
        f"{VIT}mask_token": torch.zeros(1, hidden),
        f"{VIT}patch_embed.proj.weight": rand(hidden, 3, patch, patch),
        f"{VIT}patch_embed.proj.bias": rand(hidden, scale=0.1),
        f"{VIT}rope_embed.periods": 100.0 ** (2 * torch.arange(hidden // heads // 4) / (hidden // heads // 2)),
    }
    for b in range(depth):
        p = f"{VIT}blocks.{b}."
        state.update({
            p + "norm1.weight": 1 + rand(hidden, scale=0.1), p + "norm1.bias": rand(hidden, scale=0.1),
            p + "attn.qkv.weight": rand(3 * hidden, hidden), p + "attn.qkv.bias": rand(3 * hidden, scale=0.1),
            p + "attn.qkv.bias_mask": torch.cat([torch.ones(hidden), torch.zeros(hidden), torch.ones(hidden)]),
            p + "attn.proj.weight": rand(hidden, hidden), p + "attn.proj.bias": rand(hidden, scale=0.1),
            p + "ls1.gamma": 0.3 + rand(hidden, scale=0.05),
            p + "norm2.weight": 1 + rand(hidden, scale=0.1), p + "norm2.bias": rand(hidden, scale=0.1),
            p + "mlp.w1.weight": rand(ffn_hidden, hidden), p + "mlp.w1.bias": rand(ffn_hidden, scale=0.1),
            p + "mlp.w2.weight": rand(ffn_hidden, hidden), p + "mlp.w2.bias": rand(ffn_hidden, scale=0.1),
            p + "mlp.w3.weight": rand(hidden, ffn_hidden), p + "mlp.w3.bias": rand(hidden, scale=0.1),
            p + "ls2.gamma": 0.3 + rand(hidden, scale=0.05),
        })
    state[f"{VIT}norm.weight"] = 1 + rand(hidden, scale=0.1)
    state[f"{VIT}norm.bias"] = rand(hidden, scale=0.1)
    for i, (dim, steps) in enumerate(zip(tap_dims, (1, 2, 2, 2))):
        state[f"encoder.upsample_latent{i}.0.weight"] = rand(dim, hidden, 1, 1)
        for s in range(1, steps + 1):
            state[f"encoder.upsample_latent{i}.{s}.weight"] = rand(dim, dim, 2, 2, scale=0.5)
    for i, (dim, steps) in enumerate(zip(level_dims, (3, 1, 1))):
        state[f"encoder.upsample{i}.0.weight"] = rand(dim, hidden, 1, 1)
        for s in range(1, steps + 1):
            state[f"encoder.upsample{i}.{s}.weight"] = rand(dim, dim, 2, 2, scale=0.5)
    state["encoder.upsample_lowres.weight"] = rand(hidden, level_dims[2], 2, 2, scale=0.5)
    state["encoder.upsample_lowres.bias"] = rand(level_dims[2], scale=0.1)
    state["encoder.fuse_lowres.weight"] = rand(level_dims[2], 2 * level_dims[2], 1, 1)
    state["encoder.fuse_lowres.bias"] = rand(level_dims[2], scale=0.1)
    conv_in = [level_dims[0], *tap_dims[::-1], level_dims[1], level_dims[2]]
    for i, dim in enumerate(conv_in):
        state[f"decoder.convs.{i}.weight"] = rand(decoder, dim, 3, 3)
    for i in range(7):
        p = f"decoder.fusions.{i}."
        for unit in (("resnet1", "resnet2") if i != 6 else ("resnet2",)):
            for layer in (1, 3):
                state[f"{p}{unit}.residual.{layer}.weight"] = rand(decoder, decoder, 3, 3, scale=0.3 / math.sqrt(9 * decoder))
                state[f"{p}{unit}.residual.{layer}.bias"] = rand(decoder, scale=0.05)
        if i in (1, 4, 5, 6):
            state[p + "deconv.weight"] = rand(decoder, decoder, 2, 2, scale=0.5)
        state[p + "out_conv.weight"] = rand(decoder, decoder, 1, 1)
        state[p + "out_conv.bias"] = rand(decoder, scale=0.05)
    half = decoder // 2
    head = {0: (half, decoder, 3), 2: (head_hidden, half, 3), 4: (head_hidden, head_hidden, 3),
            6: (head_hidden, head_hidden, 3), 8: (head_hidden, head_hidden, 3), 10: (head_hidden, head_hidden, 3),
            12: (1, head_hidden, 1)}
    for index, (out_dim, in_dim, k) in head.items():
        state[f"head.{index}.weight"] = rand(out_dim, in_dim, k, k)
        state[f"head.{index}.bias"] = rand(out_dim, scale=0.05)
    state["head.1.weight"] = rand(half, half, 2, 2, scale=0.5)
    state["head.1.bias"] = rand(half, scale=0.05)
    # A small non-negative last layer on a positive bias keeps the final ReLU active, so inverse
    # depth is well away from 0 and relative errors are meaningful.
    state["head.12.weight"] = rand(1, head_hidden, 1, 1, scale=0.02).abs()
    state["head.12.bias"] = torch.full((1,), 0.5)
    return state


# ----------------------------------------------------------------------------- reference model
class _Block(nn.Module):
    def __init__(self, state, prefix, heads):
        super().__init__()
        self.s, self.p, self.heads = state, prefix, heads

    def forward(self, x, cos, sin):
        s, p = self.s, self.p
        n_tokens, dim = x.shape[1], x.shape[2]
        head_dim = dim // self.heads
        h = F.layer_norm(x, (dim,), s[p + "norm1.weight"], s[p + "norm1.bias"], 1e-5)
        qkv = F.linear(h, s[p + "attn.qkv.weight"], s[p + "attn.qkv.bias"] * s[p + "attn.qkv.bias_mask"])
        qkv = qkv.reshape(x.shape[0], n_tokens, 3, self.heads, head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        prefix = n_tokens - cos.shape[0]

        def rope(t):
            body = t[:, :, prefix:]
            rotated = torch.cat([-body[..., head_dim // 2:], body[..., : head_dim // 2]], dim=-1)
            return torch.cat([t[:, :, :prefix], body * cos + rotated * sin], dim=2)

        attn = F.scaled_dot_product_attention(rope(q), rope(k), v)
        attn = attn.transpose(1, 2).reshape(x.shape[0], n_tokens, dim)
        x = x + s[p + "ls1.gamma"] * F.linear(attn, s[p + "attn.proj.weight"], s[p + "attn.proj.bias"])
        h = F.layer_norm(x, (dim,), s[p + "norm2.weight"], s[p + "norm2.bias"], 1e-5)
        gate = F.linear(h, s[p + "mlp.w1.weight"], s[p + "mlp.w1.bias"])
        up = F.linear(h, s[p + "mlp.w2.weight"], s[p + "mlp.w2.bias"])
        return x + s[p + "ls2.gamma"] * F.linear(F.silu(gate) * up, s[p + "mlp.w3.weight"], s[p + "mlp.w3.bias"])


class OfficialStudentDepthMap(nn.Module):
    """The official forward on an official state dict: all tiles in one ViT call, taps by forward hooks."""

    def __init__(self, state, heads, taps=(7, 13, 19, 25), image_size=1536, tile=384):
        super().__init__()
        self.s, self.heads, self.taps, self.image_size, self.tile = state, heads, taps, image_size, tile
        depth = 1 + max(int(k.split(".")[3]) for k in state if k.startswith(VIT + "blocks."))
        self.blocks = nn.ModuleList(_Block(state, f"{VIT}blocks.{b}.", heads) for b in range(depth))
        self.patch = state[f"{VIT}patch_embed.proj.weight"].shape[-1]
        self.hooked = {}
        for index in taps:
            self.blocks[index].register_forward_hook(lambda m, i, o, index=index: self.hooked.__setitem__(index, o))

    def rope(self, side, head_dim):
        periods = self.s[f"{VIT}rope_embed.periods"]
        coords = 2 * ((torch.arange(side, dtype=torch.float32) + 0.5) / side) - 1
        grid = torch.stack(torch.meshgrid(coords, coords, indexing="ij"), dim=-1).reshape(-1, 2)
        angles = (2 * math.pi * grid[:, :, None] / periods[None, None, :]).reshape(grid.shape[0], -1).tile(2)
        return torch.cos(angles), torch.sin(angles)

    def vit(self, tile):
        s = self.s
        x = F.conv2d(tile, s[f"{VIT}patch_embed.proj.weight"], s[f"{VIT}patch_embed.proj.bias"], stride=self.patch)
        side = x.shape[-1]
        x = x.flatten(2).transpose(1, 2)
        cls = s[f"{VIT}cls_token"].expand(x.shape[0], -1, -1) + 0 * s[f"{VIT}mask_token"]
        x = torch.cat([cls, s[f"{VIT}storage_tokens"].expand(x.shape[0], -1, -1), x], dim=1)
        cos, sin = self.rope(side, x.shape[-1] // self.heads)
        for block in self.blocks:
            x = block(x, cos, sin)
        x = F.layer_norm(x, (x.shape[-1],), s[f"{VIT}norm.weight"], s[f"{VIT}norm.bias"], 1e-5)
        return torch.cat([x[:, :1], x[:, 1 + s[f"{VIT}storage_tokens"].shape[1]:]], dim=1)

    @staticmethod
    def split(x, overlap, tile):
        stride = int(tile * (1 - overlap))
        steps = int(math.ceil((x.shape[-1] - tile) / stride)) + 1
        return [x[..., j * stride: j * stride + tile, i * stride: i * stride + tile]
                for j in range(steps) for i in range(steps)], steps

    @staticmethod
    def merge(maps, steps, padding):
        rows = []
        for j in range(steps):
            cols = []
            for i in range(steps):
                m = maps[j * steps + i]
                h0 = padding if j > 0 else 0
                h1 = m.shape[-2] - padding if j < steps - 1 else m.shape[-2]
                w0 = padding if i > 0 else 0
                w1 = m.shape[-1] - padding if i < steps - 1 else m.shape[-1]
                cols.append(m[..., h0:h1, w0:w1])
            rows.append(torch.cat(cols, dim=-1))
        return torch.cat(rows, dim=-2)

    def to_map(self, tokens, offset):
        tokens = tokens[:, offset:]
        side = int(math.isqrt(tokens.shape[1]))
        return tokens.transpose(1, 2).reshape(tokens.shape[0], -1, side, side)

    def encoder_features(self, x):
        """As the official encoder: every tile of the three levels in one ViT call, the tapped
        blocks caught by forward hooks, the full-resolution tiles' part of them merged."""
        s = self.s
        x1 = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)
        x2 = F.interpolate(x, scale_factor=0.25, mode="bilinear", align_corners=False)
        tiles0, steps0 = self.split(x, 0.25, self.tile)
        tiles1, steps1 = self.split(x1, 0.5, self.tile)
        registers = s[f"{VIT}storage_tokens"].shape[1]
        batch, count0, count1 = x.shape[0], len(tiles0), len(tiles1)
        maps = self.to_map(self.vit(torch.cat([*tiles0, *tiles1, x2])), 1).split(batch)
        taps = {k: self.to_map(self.hooked[k][: count0 * batch], 1 + registers).split(batch) for k in self.taps}
        tokens = self.tile // self.patch
        pad0, pad1 = int(0.25 * tokens / 2), int(0.5 * tokens / 2)
        hooked = [self.merge(taps[k], steps0, pad0) for k in self.taps]
        full = self.merge(maps[:count0], steps0, pad0)
        half = self.merge(maps[count0 : count0 + count1], steps1, pad1)
        return hooked, full, half, maps[-1]

    def project(self, name, x):
        index = 0
        while f"encoder.{name}.{index}.weight" in self.s:
            weight = self.s[f"encoder.{name}.{index}.weight"]
            x = F.conv2d(x, weight) if index == 0 else F.conv_transpose2d(x, weight, stride=2)
            index += 1
        return x

    def canonical_inverse_depth(self, x):
        s = self.s
        hooked, x0, x1, x2 = self.encoder_features(x)
        latents = [self.project(f"upsample_latent{i}", h) for i, h in enumerate(hooked)]
        low = F.conv_transpose2d(x2, s["encoder.upsample_lowres.weight"], s["encoder.upsample_lowres.bias"], stride=2)
        glob = F.conv2d(torch.cat([self.project("upsample2", x2), low], 1), s["encoder.fuse_lowres.weight"],
                        s["encoder.fuse_lowres.bias"])
        enc = [*latents, self.project("upsample0", x0), self.project("upsample1", x1), glob]

        def resunit(x, p):
            r = F.conv2d(F.relu(x), s[p + "residual.1.weight"], s[p + "residual.1.bias"], padding=1)
            return x + F.conv2d(F.relu(r), s[p + "residual.3.weight"], s[p + "residual.3.bias"], padding=1)

        def fusion(i, x, skip=None):
            p = f"decoder.fusions.{i}."
            if skip is not None:
                x = x + resunit(skip, p + "resnet1.")
            x = resunit(x, p + "resnet2.")
            if p + "deconv.weight" in s:
                x = F.conv_transpose2d(x, s[p + "deconv.weight"], stride=2)
            return F.conv2d(x, s[p + "out_conv.weight"], s[p + "out_conv.bias"])

        order = [4, 3, 2, 1, 0, 5, 6]
        f = fusion(6, F.conv2d(enc[6], s["decoder.convs.6.weight"], padding=1))
        for i in range(5, -1, -1):
            f = fusion(i, f, F.conv2d(enc[order[i]], s[f"decoder.convs.{i}.weight"], padding=1))
        h = F.conv2d(f, s["head.0.weight"], s["head.0.bias"], padding=1)
        h = F.conv_transpose2d(h, s["head.1.weight"], s["head.1.bias"], stride=2)
        h = F.relu(F.conv2d(h, s["head.2.weight"], s["head.2.bias"], padding=1))
        for index in (4, 6, 8, 10):
            h = F.relu(F.conv2d(h, s[f"head.{index}.weight"], s[f"head.{index}.bias"], padding=1))
        return F.relu(F.conv2d(h, s["head.12.weight"], s["head.12.bias"]))

    @torch.no_grad()
    def infer(self, image_uint8: np.ndarray, f_px: float):
        """infer.py + MetricAnythingDepthMap.infer: returns (inverse depth 1/m, depth m) at H x W."""
        x = torch.from_numpy(image_uint8.copy()).permute(2, 0, 1).float() * (1 / 255)
        mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
        x = ((x - mean) / std)[None]
        height, width = x.shape[-2:]
        x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        inverse = self.canonical_inverse_depth(x) * (width / f_px)
        inverse = F.interpolate(inverse, size=(height, width), mode="bilinear", align_corners=False)
        return inverse[0, 0], 1.0 / inverse[0, 0].clamp(1e-3, 1e3)
