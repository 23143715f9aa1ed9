"""Build the official Student-DepthMap network from a local checkout of its code, at run time.

    load_official_network(repo, config, state_dict) -> torch.nn.Module (canonical inverse depth)

`repo` is a checkout of github.com/metric-anything/metric-anything; nothing of it is copied here.
The official `create_model` builds the full ViT-H+/16 through `torch.hub.load("network", ...,
source="local")` from its own folder, so for other widths this builds the same modules the same
way: its `DinoVisionTransformer` with the ViT-H+/16 settings (widths from our config), the same
`forward_features` wrapper as its `vit_factory.create_vit`, its `MetricAnythingEncoder`,
`MultiresConvDecoder` and `MetricAnythingDepthMap`, then loads the official-format state dict
strictly (every key and shape must match the official modules).
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import MethodType

import torch


def _import_official(repo: Path):
    root = Path(repo) / "models" / "student_depthmap"
    if not (root / "depth_model.py").is_file():
        raise SystemExit(f"--official-repo {repo}: no models/student_depthmap/depth_model.py there; "
                         "pass a checkout of github.com/metric-anything/metric-anything")
    # The official code imports `network.*` from its folder and `dinov3.*` from network/ (hub-style).
    sys.path[:0] = [str(root), str(root / "network")]
    from depth_model import MetricAnythingDepthMap
    from dinov3.models.vision_transformer import DinoVisionTransformer
    from network.decoder import MultiresConvDecoder
    from network.encoder import MetricAnythingEncoder

    return MetricAnythingDepthMap, DinoVisionTransformer, MultiresConvDecoder, MetricAnythingEncoder


def load_official_network(repo: Path, config, state_dict: dict) -> torch.nn.Module:
    """The official network for `config` (official layout: 384 px tiles, 4 registers)."""
    depth_map, vision_transformer, decoder_class, encoder_class = _import_official(repo)
    backbone = config.backbone_config
    vit = vision_transformer(  # dinov3_vith16plus's settings (network/dinov3/hub/backbones.py)
        img_size=224, patch_size=backbone.patch_size, pos_embed_rope_base=100,
        pos_embed_rope_normalize_coords="separate", pos_embed_rope_rescale_coords=2, pos_embed_rope_dtype="fp32",
        embed_dim=backbone.hidden_size, depth=backbone.num_hidden_layers, num_heads=backbone.num_attention_heads,
        ffn_ratio=backbone.intermediate_size * 1.5 / backbone.hidden_size,  # SwiGLU keeps 2/3 of it
        qkv_bias=True, layerscale_init=1e-5, norm_layer="layernormbf16", ffn_layer="swiglu", ffn_bias=True,
        proj_bias=True, n_storage_tokens=backbone.num_register_tokens, mask_k_bias=True,
    )
    vit.patch_embed.img_size = (config.tile_size, config.tile_size)
    features = vit.forward_features

    def forward_with_cls(self, x):  # as vit_factory.create_vit
        out = features(x)
        return torch.cat([out["x_norm_clstoken"].unsqueeze(1), out["x_norm_patchtokens"]], dim=1)

    vit.forward_features = MethodType(forward_with_cls, vit)
    vit.forward = vit.forward_features
    dims = [config.tap_feature_dims[0], *config.level_feature_dims]
    encoder = encoder_class(dims_encoder=dims, patch_encoder=vit, hook_block_ids=list(config.tap_layers))
    decoder = decoder_class(dims_encoder=[config.decoder_hidden_size, dims[0], dims[0], *dims],
                            dim_decoder=config.decoder_hidden_size)
    model = depth_map(encoder=encoder, decoder=decoder, last_dims=(config.head_hidden_size, 1))
    model.load_state_dict(state_dict, strict=True)
    return model.eval()
