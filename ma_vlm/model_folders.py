"""The one check every command makes on a model folder the user names, before anything loads.

`check_model_folder(path, "--model", needs=...)` refuses, in one line that names the option and
the fix: a missing local path (never sent to the Hub), a file where a folder is due, a folder
without `config.json` (and a PEFT adapter folder given for a full model), a folder that needs
custom code, a model of the wrong type (naming the command that makes the right one), weights
stored as a pickle, and a truncated `.safetensors` file. A Hub id passes: the loader fetches it.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from ma_vlm.errors import MaVlmInputError
from ma_vlm.inputs import check_hub_id, refuse_custom_code

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")


@dataclass(frozen=True)
class ModelKind:
    """What a command takes: the `model_type` values of its config.json (None: any but
    `refused`), in words, and the command that makes one."""

    name: str
    made_by: str
    model_types: tuple[str, ...] | None = None
    refused: tuple[str, ...] = ()

    def accepts(self, model_type: str | None) -> bool:
        if self.model_types is not None:
            return model_type in self.model_types
        return model_type not in self.refused


TOWER_TYPES = ("metric_anything", "metric_anything_pointmap", "ma_vla")
DEPTH_MODEL = ModelKind("a Metric Anything depth model", "`ma-vlm convert student_depthmap.pt DIR` or `ma-vlm pretrain`",
                        ("metric_anything",))
POINTMAP_MODEL = ModelKind("a Student-PointMap model", "`ma-vlm convert student_pointmap.pt DIR` or "
                           "`ma-vlm pretrain-pointmap`", ("metric_anything_pointmap",))
SPATIAL_MLLM = ModelKind("a spatial MLLM", "`ma-vlm train mllm` (its OUTPUT/model)", ("spatial_llava",))
IMAGE_TEXT_MODEL = ModelKind("an image-text-to-text model", "`ma-vlm train mllm` (its OUTPUT/model)",
                             refused=TOWER_TYPES)
VLA_POLICY = ModelKind("an ma_vla policy", "`lerobot-train --policy.type=ma_vla` (its "
                       "checkpoints/last/pretrained_model)", ("ma_vla",))
LANGUAGE_MODEL = ModelKind("a causal language model", "a Transformers LLM folder (save_pretrained)",
                           refused=(*TOWER_TYPES, "spatial_llava"))


def safetensors_problem(path: Path) -> str | None:
    """Why the .safetensors file at `path` cannot be complete (from its header and size), or None."""
    size = path.stat().st_size
    try:
        with path.open("rb") as handle:
            (header_length,) = struct.unpack("<Q", handle.read(8))
            if header_length > size - 8:
                return f"its header says {header_length} bytes but the file has {size}"
            header = json.loads(handle.read(header_length))
    except (struct.error, ValueError, UnicodeDecodeError):
        return "it does not start with a safetensors header"
    ends = [entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__"]
    expected = 8 + header_length + max(ends, default=0)
    if size < expected:
        return f"it is cut off: {size} of {expected} bytes"
    return None


def check_model_folder(path: str | os.PathLike, flag: str, kind: ModelKind, hub: bool = True) -> str:
    """`path` if it is a usable model folder of `kind` (or, with `hub`, a Hub id); else one line."""
    text = str(path)
    folder = Path(path)
    if not folder.exists():
        if not hub:
            raise MaVlmInputError(f"{flag} {text}: no such folder; give {kind.name} folder ({kind.made_by} makes one)")
        check_hub_id(text, flag)
        return text
    if not folder.is_dir():
        raise MaVlmInputError(f"{flag} {text} is a file; give {kind.name} folder ({kind.made_by} makes one)")
    if not (folder / "config.json").is_file():
        if (folder / "adapter_config.json").is_file():
            raise MaVlmInputError(f"{flag} {text} holds only PEFT adapters; give the full model folder "
                                  f"(`ma-vlm train mllm` writes it as OUTPUT/model)")
        raise MaVlmInputError(f"{flag} {text} has no config.json, so it is not a model folder; "
                              f"give {kind.name} folder ({kind.made_by} makes one)")
    refuse_custom_code(folder, flag)
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as error:
        raise MaVlmInputError(f"{flag} {text}: config.json is not readable JSON ({error})") from None
    model_type = config.get("model_type", config.get("type")) if isinstance(config, dict) else None
    if not kind.accepts(model_type):
        raise MaVlmInputError(f"{flag} {text} is a {model_type!r} model; this needs {kind.name} "
                              f"({kind.made_by} makes one)")
    check_weights(folder, flag)
    return text


def check_weights(folder: Path, flag: str) -> None:
    """The folder's weights are safetensors and complete; a pickle gets the line `convert` gives."""
    weights = sorted(folder.glob("*.safetensors"))
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES and p.is_file())
    if not weights and pickles:
        raise MaVlmInputError(f"{flag} {folder} holds its weights as a pickle ({pickles[0]}); ma-vlm loads only "
                              "safetensors, because loading a pickle can run code: re-save the model with "
                              "save_pretrained(..., safe_serialization=True), or `ma-vlm convert` an official .pt")
    for file in weights:
        problem = safetensors_problem(file)
        if problem:
            raise MaVlmInputError(f"{flag} {folder}: {file.name} is incomplete or damaged ({problem}); "
                                  "copy or download it again")


def load_failure(flag: str, source: str, error: Exception) -> MaVlmInputError:
    """One line for a load that failed after the checks: a Hub id that could not be fetched
    (offline, or no such repository) names the option; anything else gives the loader's reason."""
    message = " ".join(str(error).split())[:240]
    if not Path(source).exists() and isinstance(error, OSError):
        return MaVlmInputError(f"{flag} {source} is not a local folder, and fetching it from the Hub failed "
                               f"({message}); give a local model folder, or check the id and the network")
    return MaVlmInputError(f"{flag} {source} could not be loaded ({type(error).__name__}: {message})")
