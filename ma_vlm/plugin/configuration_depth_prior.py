"""`DepthPriorConfig`: everything needed to rebuild a plugin's layers (saved as JSON beside its weights)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from ma_vlm.errors import MaVlmInputError
from ma_vlm.plugin.families import ALL_MODES


@dataclass
class DepthPriorConfig:
    """How Metric Anything is attached to an MLLM.

    mode: "replace" | "add" | "concat" | "cross_attention" | "position_encoding_3d".
    position_encoding_3d: also add the learned encoding of `token_points` wherever depth tokens
        enter (implied by mode "position_encoding_3d").
    tower_hidden_size / llm_hidden_size: widths of the tower tokens (D) and LLM embeddings (H).
    concat_tokens_per_side: `concat` appends side x side tokens per image (None: the tower's grid).
    cross_attention_layers: LLM decoder layers followed by a gated cross-attention block (None:
        up to 4, evenly spread).
    num_heads: heads of the cross-attention (None: the LLM's).
    num_bands / encoding_hidden_size: Fourier octaves and MLP width of the 3D encoding.
    """

    mode: str = "add"
    position_encoding_3d: bool = False
    tower_hidden_size: int = 0
    llm_hidden_size: int = 0
    concat_tokens_per_side: int | None = None
    cross_attention_layers: list[int] | None = None
    num_heads: int | None = None
    num_bands: int = 8
    encoding_hidden_size: int = 256
    model_type: str = ""
    architecture: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.mode not in ALL_MODES:
            raise MaVlmInputError(f"unknown depth-prior mode {self.mode!r}; choose one of {list(ALL_MODES)}")
        if self.mode == "position_encoding_3d":
            self.position_encoding_3d = True

    @property
    def uses_projector(self) -> bool:
        return self.mode != "position_encoding_3d"

    def to_json_string(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2) + "\n"

    @classmethod
    def from_dict(cls, values: dict) -> "DepthPriorConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
