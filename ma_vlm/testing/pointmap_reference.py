"""A plain re-implementation of the published Student-PointMap (MoGe-2) inference, written from a
reading of the MoGe code (moge/model/v2.py `forward` + `infer`, modules.py, geometry_torch.py
`recover_focal_shift`, geometry_numpy.py `solve_optimal_focal_shift`). It works directly on an
official-format `{"model_config", "model"}` checkpoint and is the oracle of the parity tests.

Deliberately naive, like the original: fused qkv, attention by hand, DINOv2 position embeddings
interpolated with a scale factor of (n + 0.1) / 37, normalisation after the resize, convs with
explicit replicate padding, and the focal/shift fit by scipy's Levenberg-Marquardt on the
normalised view plane (x0 = 0, ftol = 1e-3), as published.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

VIT = "encoder.backbone."
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


# ----------------------------------------------------------------------------- checkpoint maker
def tiny_model_config(hidden=64, depth=4, levels=(32, 16, 16, 8, 8), with_normal=False) -> dict:
    """The published model_config layout with tiny widths."""
    def stack(dim_in, dim_out, blocks):
        return {"dim_in": dim_in, "dim_out": dim_out, "dim_res_blocks": list(levels), "num_res_blocks": blocks,
                "res_block_in_norm": "none", "res_block_hidden_norm": "none",
                "resamplers": ["conv_transpose", "conv_transpose", "conv_transpose", "bilinear"]}

    head_out = [None] * (len(levels) - 1)
    config = {
        "encoder": {"backbone": "dinov2_vitl14", "intermediate_layers": list(range(depth))[-4:], "dim_out": levels[0]},
        "neck": stack([levels[0] + 2, 2, 2, 2, 2], None, [0, 2, 2, 2, 0]),
        "points_head": stack(list(levels), head_out + [3], [0, 1, 1, 1, 0]),
        "mask_head": stack(list(levels), head_out + [1], [0, 1, 1, 1, 0]),
        "scale_head": {"dims": [hidden, hidden, 1]},
        "remap_output": "exp",
        "num_tokens_range": [32, 96],
    }
    if with_normal:
        config["normal_head"] = stack(list(levels), head_out + [3], [0, 1, 1, 1, 0])
    return config


def make_pointmap_checkpoint(hidden=64, depth=4, patch=14, grid=5, focal=1.25, seed=0, with_normal=False) -> dict:
    """Random weights under MoGe's key names, nudged so the point map is a pinhole camera of
    focal `focal` (half-diagonal units) with depth ~3 varying a little: the (u, v) map that
    enters the neck's last level is routed to the points head's (x, y), so the focal fit is
    well posed and the parity of intrinsics means something."""
    generator = torch.Generator().manual_seed(seed)
    config = tiny_model_config(hidden, depth, with_normal=with_normal)
    levels = config["neck"]["dim_res_blocks"]

    def rand(*shape, scale=None):
        fan_in = math.prod(shape[1:]) if len(shape) > 1 else shape[0]
        return torch.randn(*shape, generator=generator) * (scale if scale is not None else 1 / math.sqrt(fan_in))

    state = {
        f"{VIT}cls_token": rand(1, 1, hidden, scale=0.5), f"{VIT}mask_token": torch.zeros(1, hidden),
        f"{VIT}pos_embed": rand(1, 1 + grid * grid, hidden, scale=0.5),
        f"{VIT}patch_embed.proj.weight": rand(hidden, 3, patch, patch), f"{VIT}patch_embed.proj.bias": rand(hidden),
        f"{VIT}norm.weight": 1 + rand(hidden, scale=0.1), f"{VIT}norm.bias": rand(hidden, scale=0.1),
        "encoder.image_mean": torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1),
        "encoder.image_std": torch.tensor(IMAGENET_STD).view(1, 3, 1, 1),
    }
    for b in range(depth):
        p = f"{VIT}blocks.{b}."
        state.update({
            p + "norm1.weight": 1 + rand(hidden, scale=0.1), p + "norm1.bias": rand(hidden, scale=0.1),
            p + "attn.qkv.weight": rand(3 * hidden, hidden), p + "attn.qkv.bias": rand(3 * hidden, scale=0.1),
            p + "attn.proj.weight": rand(hidden, hidden), p + "attn.proj.bias": rand(hidden, scale=0.1),
            p + "ls1.gamma": 0.5 + rand(hidden, scale=0.1), p + "ls2.gamma": 0.5 + rand(hidden, scale=0.1),
            p + "norm2.weight": 1 + rand(hidden, scale=0.1), p + "norm2.bias": rand(hidden, scale=0.1),
            p + "mlp.fc1.weight": rand(4 * hidden, hidden), p + "mlp.fc1.bias": rand(4 * hidden, scale=0.1),
            p + "mlp.fc2.weight": rand(hidden, 4 * hidden), p + "mlp.fc2.bias": rand(hidden, scale=0.1),
        })
    for i in range(4):
        state[f"encoder.output_projections.{i}.weight"] = rand(levels[0], hidden, 1, 1)
        state[f"encoder.output_projections.{i}.bias"] = rand(levels[0], scale=0.1)
    for name in ("neck", "points_head", "mask_head") + (("normal_head",) if with_normal else ()):
        section = config[name]
        for level, (size, blocks) in enumerate(zip(levels, section["num_res_blocks"])):
            state[f"{name}.input_blocks.{level}.weight"] = rand(size, section["dim_in"][level], 1, 1)
            state[f"{name}.input_blocks.{level}.bias"] = rand(size, scale=0.1)
            for j in range(blocks):
                for k in (2, 5):
                    state[f"{name}.res_blocks.{level}.{j}.layers.{k}.weight"] = rand(size, size, 3, 3, scale=0.02)
                    state[f"{name}.res_blocks.{level}.{j}.layers.{k}.bias"] = rand(size, scale=0.01)
            if level + 1 < len(levels):
                kind = section["resamplers"][level]
                if kind == "conv_transpose":
                    state[f"{name}.resamplers.{level}.0.weight"] = rand(size, levels[level + 1], 2, 2)
                    state[f"{name}.resamplers.{level}.0.bias"] = rand(levels[level + 1], scale=0.1)
                    conv_in = levels[level + 1]
                else:
                    conv_in = size
                state[f"{name}.resamplers.{level}.1.weight"] = rand(levels[level + 1], conv_in, 3, 3, scale=0.02)
                state[f"{name}.resamplers.{level}.1.bias"] = rand(levels[level + 1], scale=0.01)
            if section["dim_out"] is not None and section["dim_out"][level] is not None:
                out = section["dim_out"][level]
                state[f"{name}.output_blocks.{level}.weight"] = rand(out, size, 1, 1, scale=0.01)
                state[f"{name}.output_blocks.{level}.bias"] = torch.zeros(out)
    # route (u, v): neck level-4 input -> first two channels -> points head (x', y') = (u, v) / focal
    last = len(levels) - 1
    state[f"neck.input_blocks.{last}.weight"][:2] = torch.eye(2).view(2, 2, 1, 1) * 10
    state[f"neck.input_blocks.{last}.bias"][:2] = 0
    head_in = state[f"points_head.input_blocks.{last}.weight"]
    head_in[:2] = 0
    head_in[:2, :2] = torch.eye(2).view(2, 2, 1, 1)
    state[f"points_head.input_blocks.{last}.bias"][:2] = 0
    state[f"points_head.output_blocks.{last}.weight"][:2] = 0
    state[f"points_head.output_blocks.{last}.weight"][:2, :2] = torch.eye(2).view(2, 2, 1, 1) / (10 * focal)
    state[f"points_head.output_blocks.{last}.bias"][2] = math.log(3.0)
    state[f"mask_head.output_blocks.{last}.bias"][0] = 1.0
    scale_last = len(config["scale_head"]["dims"]) - 2
    for k in range(scale_last + 1):
        dims = config["scale_head"]["dims"]
        state[f"scale_head.{2 * k}.weight"] = rand(dims[k + 1], dims[k], scale=0.05)
        state[f"scale_head.{2 * k}.bias"] = torch.zeros(dims[k + 1])
    return {"model_config": config, "model": state}


# ----------------------------------------------------------------------------- the forward
def _conv(x, state, prefix, padding=True):
    weight, bias = state[prefix + ".weight"], state[prefix + ".bias"]
    if padding and weight.shape[-1] == 3:
        x = F.pad(x, (1, 1, 1, 1), mode="replicate")
    return F.conv2d(x, weight, bias)


def _conv_stack(state, name, section, inputs):
    outputs, x = [], None
    for level, blocks in enumerate(section["num_res_blocks"]):
        feature = _conv(inputs[level], state, f"{name}.input_blocks.{level}") \
            if f"{name}.input_blocks.{level}.weight" in state else inputs[level]
        x = feature if level == 0 else x + feature
        for j in range(blocks):
            p = f"{name}.res_blocks.{level}.{j}.layers."
            x = x + _conv(F.relu(_conv(F.relu(x), state, p + "2")), state, p + "5")
        out_key = f"{name}.output_blocks.{level}"
        outputs.append(_conv(x, state, out_key) if out_key + ".weight" in state else x)
        if level + 1 < len(section["num_res_blocks"]):
            kind, p = section["resamplers"][level], f"{name}.resamplers.{level}."
            if kind == "conv_transpose":
                x = F.conv_transpose2d(x, state[p + "0.weight"], state[p + "0.bias"], stride=2)
            else:
                x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = _conv(x, state, p + "1")
    return outputs


def _plane_uv(width, height, aspect_ratio):
    span_x = aspect_ratio / (1 + aspect_ratio**2) ** 0.5
    span_y = 1 / (1 + aspect_ratio**2) ** 0.5
    u = torch.linspace(-span_x * (width - 1) / width, span_x * (width - 1) / width, width)
    v = torch.linspace(-span_y * (height - 1) / height, span_y * (height - 1) / height, height)
    u, v = torch.meshgrid(u, v, indexing="xy")
    return torch.stack([u, v], dim=-1)  # (H, W, 2)


def _solve_shift_focal(uv, xyz, focal=None, ftol=1e-3):
    """MoGe's solve_optimal_(focal_)shift; ftol=1e-3 as published (the LM stops early, ~1e-4
    relative in focal from the exact minimiser); a tiny ftol gives the exact least-squares fit."""
    from scipy.optimize import least_squares

    uv, xy, z = uv.reshape(-1, 2), xyz[..., :2].reshape(-1, 2), xyz[..., 2].reshape(-1)

    def residual(shift):
        proj = xy / (z + shift)[:, None]
        f = focal if focal is not None else (proj * uv).sum() / np.square(proj).sum()
        return (f * proj - uv).ravel()

    tight = {} if ftol >= 1e-3 else {"xtol": 1e-15, "gtol": 1e-15}
    shift = least_squares(residual, x0=0, ftol=ftol, method="lm", **tight)["x"].squeeze().astype(np.float32)
    proj = xy / (z + shift)[:, None]
    return shift, (focal if focal is not None else (proj * uv).sum() / np.square(proj).sum())


class ReferencePointMap:
    def __init__(self, checkpoint: dict, heads: int):
        self.config, self.state, self.heads = checkpoint["model_config"], checkpoint["model"], heads
        self.depth = len({k.split(".")[3] for k in self.state if k.startswith(VIT + "blocks.")})

    def vit(self, image):
        """(B, 3, h, w) normalised -> list of final-normed tapped tokens (B, 1 + N, D)."""
        s, heads = self.state, self.heads
        x = F.conv2d(image, s[VIT + "patch_embed.proj.weight"], s[VIT + "patch_embed.proj.bias"], stride=14)
        rows, cols = x.shape[-2:]
        x = torch.cat([s[VIT + "cls_token"].expand(len(x), -1, -1), x.flatten(2).transpose(1, 2)], dim=1)
        pos = s[VIT + "pos_embed"]
        side = int(math.sqrt(pos.shape[1] - 1))
        if not (rows * cols == side * side and rows == cols):
            grid = pos[:, 1:].reshape(1, side, side, -1).permute(0, 3, 1, 2)
            grid = F.interpolate(grid, scale_factor=((rows + 0.1) / side, (cols + 0.1) / side), mode="bicubic")
            pos = torch.cat([pos[:, :1], grid.permute(0, 2, 3, 1).flatten(1, 2)], dim=1)
        x = x + pos
        taps, hidden = [], x.shape[-1]

        def norm(t, name):
            return F.layer_norm(t, (hidden,), s[name + ".weight"], s[name + ".bias"], eps=1e-6)

        for b in range(self.depth):
            p = f"{VIT}blocks.{b}."
            qkv = F.linear(norm(x, p + "norm1"), s[p + "attn.qkv.weight"], s[p + "attn.qkv.bias"])
            q, k, v = qkv.reshape(len(x), -1, 3, heads, hidden // heads).permute(2, 0, 3, 1, 4)
            attention = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hidden // heads), dim=-1) @ v
            attention = F.linear(attention.transpose(1, 2).reshape(x.shape), s[p + "attn.proj.weight"],
                                 s[p + "attn.proj.bias"])
            x = x + s[p + "ls1.gamma"] * attention
            mlp = F.linear(F.gelu(F.linear(norm(x, p + "norm2"), s[p + "mlp.fc1.weight"], s[p + "mlp.fc1.bias"])),
                           s[p + "mlp.fc2.weight"], s[p + "mlp.fc2.bias"])
            x = x + s[p + "ls2.gamma"] * mlp
            if b in self.config["encoder"]["intermediate_layers"]:
                taps.append(norm(x, VIT + "norm"))
        return taps, (rows, cols)

    @torch.no_grad()
    def infer(self, image, num_tokens, fov_x=None, ftol=1e-3):
        """image (3, H, W) in [0, 1] -> dict of points (H, W, 3), depth (H, W), mask (H, W),
        intrinsics [fx, fy, cx, cy] in pixels (OpenCV centres), metric_scale, affine points."""
        s, config = self.state, self.config
        _, height, width = image.shape
        aspect = width / height
        rows, cols = round((num_tokens / aspect) ** 0.5), round((num_tokens * aspect) ** 0.5)
        x = F.interpolate(image[None], (rows * 14, cols * 14), mode="bilinear", align_corners=False, antialias=True)
        x = (x - s["encoder.image_mean"]) / s["encoder.image_std"]
        taps, _ = self.vit(x)
        features = sum(_conv(t[:, 1:].permute(0, 2, 1).unflatten(2, (rows, cols)), s,
                             f"encoder.output_projections.{i}") for i, t in enumerate(taps))
        levels = []
        for level in range(5):
            uv = _plane_uv(cols * 2**level, rows * 2**level, aspect).permute(2, 0, 1)[None]
            levels.append(torch.cat([features, uv], 1) if level == 0 else uv)
        neck = _conv_stack(s, "neck", config["neck"], levels)

        def head(name):
            raw = _conv_stack(s, name, config[name], neck)[-1]
            return F.interpolate(raw, (height, width), mode="bilinear", align_corners=False)

        raw = head("points_head")[0].permute(1, 2, 0)
        points = torch.cat([raw[..., :2] * raw[..., 2:].exp(), raw[..., 2:].exp()], dim=-1)
        mask = head("mask_head")[0, 0].sigmoid() > 0.5
        cls = taps[-1][:, 0]
        dims = config["scale_head"]["dims"]
        for k in range(len(dims) - 1):
            cls = F.linear(cls, s[f"scale_head.{2 * k}.weight"], s[f"scale_head.{2 * k}.bias"])
            cls = F.relu(cls) if k < len(dims) - 2 else cls
        metric_scale = cls[0, 0].exp()
        # recover_focal_shift: nearest 64 x 64 subsample of the map, the plane uv and the mask
        uv = _plane_uv(width, height, aspect)
        points_lr = F.interpolate(points.permute(2, 0, 1)[None], (64, 64), mode="nearest")[0].permute(1, 2, 0)
        uv_lr = F.interpolate(uv.permute(2, 0, 1)[None], (64, 64), mode="nearest")[0].permute(1, 2, 0)
        mask_lr = F.interpolate(mask.float()[None, None], (64, 64), mode="nearest")[0, 0] > 0
        known = None if fov_x is None else aspect / (1 + aspect**2) ** 0.5 / math.tan(math.radians(fov_x) / 2)
        shift, focal = _solve_shift_focal(uv_lr[mask_lr].numpy(), points_lr[mask_lr].numpy(), known, ftol)
        half_diagonal = math.hypot(width, height) / 2
        focal_px = float(focal) * half_diagonal
        depth = points[..., 2] + float(shift)
        mask = mask & (depth > 0)
        u = (torch.arange(width) + 0.5) / width
        v = (torch.arange(height) + 0.5) / height
        fx_n, fy_n = focal_px / width, focal_px / height
        v, u = torch.meshgrid(v, u, indexing="ij")
        points = torch.stack([(u - 0.5) / fx_n * depth, (v - 0.5) / fy_n * depth, depth], dim=-1)
        return {"points": points * metric_scale, "depth": depth * metric_scale, "mask": mask,
                "intrinsics": [focal_px, focal_px, width / 2 - 0.5, height / 2 - 0.5],
                "metric_scale": float(metric_scale), "shift": float(shift)}
