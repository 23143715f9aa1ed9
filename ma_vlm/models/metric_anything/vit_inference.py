"""Inference path for the tower's ViT blocks: the math of Transformers' `DINOv3ViTLayer`,
written into buffers that every block reuses.

Why: on CPU, glibc serves a tensor larger than 32 MiB with fresh pages each time, and the
kernel zero-fills them on first write. At the official layout (35 tiles x 581 tokens) the MLP's
gate, up, activation and product are 125 MB each at width 384 (and every token tensor is over
32 MiB at the published width 1280), so the layer's own forward, like the official code, spends
a large share of each block in page faults. Here the projections write into buffers allocated
once per forward, and the element-wise steps (RoPE, SiLU x up, layer scale + residual) run in
place. Measured on 2 cores at width 384 (perf/encoder_speed.py, one 1536 px image): see README.

It is used only where it computes what the layer's forward computes (`fused_blocks` returns
None otherwise): no gradients, eval mode, SDPA attention (the implementation it calls; a model
loaded with `attn_implementation="eager"` runs eager), DINOv3 layers whose projections are plain
`nn.Linear` (a PEFT LoRA wrapper or any hook keeps the layer's own forward), no attention mask.
Under autocast it computes as autocast would: projections and attention in the autocast dtype,
LayerNorm and the residual stream in float32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _plain(module: nn.Module) -> bool:
    hooks = (module._forward_hooks, module._forward_pre_hooks, nn.modules.module._global_forward_hooks,
             nn.modules.module._global_forward_pre_hooks)  # fmt: skip
    return not any(hooks)


def _fusable(block: nn.Module) -> bool:
    attention, mlp = getattr(block, "attention", None), getattr(block, "mlp", None)
    if attention is None or mlp is None or block.training or not isinstance(block.drop_path, nn.Identity):
        return False
    projections = ["gate_proj", "up_proj", "down_proj"] if hasattr(mlp, "gate_proj") else ["up_proj", "down_proj"]
    linears = [getattr(attention, name, None) for name in ("q_proj", "k_proj", "v_proj", "o_proj")]
    linears += [getattr(mlp, name, None) for name in projections]
    parts = [block, attention, mlp, block.norm1, block.norm2, block.layer_scale1, block.layer_scale2, *linears]
    return all(type(linear) is nn.Linear for linear in linears) and all(_plain(part) for part in parts)


class FusedBlocks:
    """Runs DINOv3 blocks over (N, T, D) tokens with buffers shared by all of them."""

    def __init__(self, hidden: torch.Tensor, block: nn.Module, position_embeddings):
        self.device_type = hidden.device.type
        autocast = torch.is_autocast_enabled(self.device_type)
        self.dtype = torch.get_autocast_dtype(self.device_type) if autocast else block.attention.q_proj.weight.dtype
        self.cos, self.sin = (part.to(self.dtype) for part in position_embeddings)
        batch, tokens, width = hidden.shape
        self.shape, rows = hidden.shape, batch * tokens
        heads = block.attention.num_heads
        self.heads = heads
        gated = hasattr(block.mlp, "gate_proj")
        intermediate = block.mlp.up_proj.out_features

        def buffer(*shape, dtype=self.dtype):
            return hidden.new_empty(shape, dtype=dtype)

        self.query, self.key, self.value, self.attended = (buffer(rows, width) for _ in range(4))
        self.up = buffer(rows, intermediate)
        self.gate = buffer(rows, intermediate) if gated else None
        self.down = buffer(rows, width)
        # RoPE as x * cos + swap_halves(x) * signed_sin over each token's whole row (heads side by
        # side), so the multiplies run over contiguous rows; broadcasting (P, 1, head_dim) tables
        # over heads ran on 8-float runs at the tiny layout and cost ~3x as much.
        patches, half = self.cos.shape[-2], width // heads // 2
        signed_sin = torch.cat([-self.sin[..., :half], self.sin[..., half:]], dim=-1)
        self.cos_rows, self.sin_rows = self.cos.repeat(1, heads), signed_sin.repeat(1, heads)  # (P, D)
        self.swapped = buffer(batch, patches, heads, 2, half)
        stream = hidden.dtype  # the residual stream keeps the input's dtype (float32 under autocast)
        self.middle = buffer(rows, width, dtype=stream)
        self.outputs = [buffer(batch, tokens, width, dtype=stream) for _ in range(2)]
        self.turn = 0

    def _linear(self, linear: nn.Linear, inputs: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        weight = linear.weight.to(self.dtype).t()
        if linear.bias is None:
            return torch.mm(inputs, weight, out=out)
        return torch.addmm(linear.bias.to(self.dtype), inputs, weight, out=out)

    def _rope_(self, states: torch.Tensor) -> None:
        """Rotate the patch tokens of (N, T, H, hd) `states` in place (DINOv3's rotate-half RoPE)."""
        batch, patches = states.shape[0], self.cos_rows.shape[0]
        halves = states[:, states.shape[1] - patches :].unflatten(-1, (2, -1))  # (N, P, H, 2, hd/2)
        self.swapped[..., 0, :].copy_(halves[..., 1, :])
        self.swapped[..., 1, :].copy_(halves[..., 0, :])
        rows = halves.flatten(2)  # (N, P, D): a view, each tile's patch rows are contiguous
        rows.mul_(self.cos_rows).addcmul_(self.swapped.view(batch, patches, -1), self.sin_rows)

    def _norm(self, norm: nn.LayerNorm, hidden: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(hidden, norm.normalized_shape, norm.weight, norm.bias, norm.eps).to(self.dtype)

    def __call__(self, block: nn.Module, hidden: torch.Tensor, keep: bool) -> torch.Tensor:
        """One block; `keep`: its output must outlive the next blocks (a tap, a hidden state)."""
        with torch.autocast(self.device_type, enabled=False):
            return self._block(block, hidden, keep)

    def _block(self, block: nn.Module, hidden: torch.Tensor, keep: bool) -> torch.Tensor:
        attention, mlp = block.attention, block.mlp
        batch, tokens, width = self.shape
        heads, rows = self.heads, batch * tokens
        normed = self._norm(block.norm1, hidden).view(rows, width)
        split = (batch, tokens, heads, width // heads)
        query = self._linear(attention.q_proj, normed, self.query).view(split)
        key = self._linear(attention.k_proj, normed, self.key).view(split)
        value = self._linear(attention.v_proj, normed, self.value).view(split)
        self._rope_(query)
        self._rope_(key)
        attended = F.scaled_dot_product_attention(query.transpose(1, 2), key.transpose(1, 2),
                                                  value.transpose(1, 2), scale=attention.scaling)  # fmt: skip
        attended = attended.transpose(1, 2).reshape(rows, width)
        projected = self._linear(attention.o_proj, attended, self.attended)
        middle = torch.addcmul(hidden.reshape(rows, width), projected, block.layer_scale1.lambda1, out=self.middle)

        normed = self._norm(block.norm2, middle)
        up = self._linear(mlp.up_proj, normed, self.up)
        if self.gate is not None:
            activated = F.silu(self._linear(mlp.gate_proj, normed, self.gate), inplace=True).mul_(up)
        else:
            activated = mlp.act_fn(up)
        down = self._linear(mlp.down_proj, activated, self.down)
        if keep:
            output = torch.empty_like(self.outputs[0])
        else:
            output, self.turn = self.outputs[self.turn], 1 - self.turn
        return torch.addcmul(middle, down, block.layer_scale2.lambda1, out=output.view(rows, width)).view(self.shape)


def fused_blocks(blocks, hidden: torch.Tensor, layer_kwargs: dict) -> FusedBlocks | None:
    """A `FusedBlocks` for these blocks and tokens, or None where the layers' own forward must run."""
    if torch.is_grad_enabled() or set(layer_kwargs) != {"position_embeddings"}:  # DINOv3's RoPE, nothing else
        return None
    if torch.compiler.is_compiling():  # a traced graph gets the layers' own ops: the compiler plans the buffers
        return None
    if not all(_fusable(block) for block in blocks):
        return None
    if blocks[0].attention.config._attn_implementation != "sdpa":  # the path calls SDPA; honour any other choice
        return None
    return FusedBlocks(hidden, blocks[0], layer_kwargs["position_embeddings"])
