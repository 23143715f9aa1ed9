"""What every converter of an official checkpoint shares: finding the file (path, folder or hub
id), a strict load that names the keys that do not fit, and writing the converted folder whole or
not at all (the completion marker that `--overwrite` checks)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import torch

from ma_vlm.atomic_io import COMPLETE_MARKER, apply_umask, mark_complete, read_complete_marker
from ma_vlm.errors import MaVlmInputError

DEFAULT_FILENAME = "student_depthmap.pt"  # what a hub id without a file name means
CONVERSION_KIND = "ma-vlm convert"  # the completion marker's kind: a folder --overwrite may replace


def resolve_checkpoint(checkpoint: str | os.PathLike) -> Path:
    path = Path(checkpoint)
    if path.is_file():
        return path
    if path.is_dir():
        candidates = sorted(path.glob("*.pt")) + sorted(path.glob("*.safetensors"))
        if not candidates:
            raise MaVlmInputError(f"folder {path} holds no .pt or .safetensors checkpoint")
        return candidates[0]
    from ma_vlm.inputs import check_hub_id

    parts = str(checkpoint).split("/")
    check_hub_id(str(checkpoint), "checkpoint", max_parts=None)
    repo_id, filename = "/".join(parts[:2]), "/".join(parts[2:]) or DEFAULT_FILENAME
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(repo_id, filename))
    except Exception as error:
        raise MaVlmInputError(
            f"could not fetch {filename} from hub repo {repo_id} ({type(error).__name__}); "
            "check the id, your network, or download the file and pass its path"
        ) from None


def load_converted(model: torch.nn.Module, converted: dict[str, torch.Tensor]) -> None:
    """Strict load with an error that lists missing / unexpected / mis-shaped keys."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(converted))
    unexpected = sorted(set(converted) - set(expected))
    misshaped = [
        f"{k}: checkpoint {tuple(converted[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in sorted(set(expected) & set(converted))
        if converted[k].shape != expected[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} model weights not in the checkpoint, e.g. {missing[:5]}")
    if unexpected:
        problems.append(f"{len(unexpected)} checkpoint weights unknown to the model, e.g. {unexpected[:5]}")
    if misshaped:
        problems.append(f"{len(misshaped)} shape mismatches, e.g. {misshaped[:3]}")
    if problems:
        raise MaVlmInputError("checkpoint does not fit the model: " + "; ".join(problems))
    model.load_state_dict(converted, strict=True)


def check_replaceable(output_dir: Path, source: Path) -> None:
    """`--overwrite` replaces only what an earlier `ma-vlm convert` wrote: never a folder that
    holds the input checkpoint (or the current directory with it), nor one with a file the
    conversion's completion marker does not list."""
    target = output_dir.resolve()
    if source.resolve().is_relative_to(target):
        raise MaVlmInputError(
            f"{output_dir} holds the input checkpoint {source}; --overwrite would delete it. "
            "Write the conversion to a new folder (e.g. converted/)"
        )
    marker = read_complete_marker(target)
    if marker is None or marker.get("kind") != CONVERSION_KIND:
        raise MaVlmInputError(
            f"{output_dir} was not written by ma-vlm convert (no {COMPLETE_MARKER}); --overwrite only "
            "replaces an earlier conversion. Choose a new or empty folder"
        )
    ours = set(marker.get("files", [])) | {COMPLETE_MARKER}
    others = sorted(str(p.relative_to(target)) for p in target.rglob("*")
                    if not p.is_dir() and str(p.relative_to(target)) not in ours)
    if others:
        raise MaVlmInputError(
            f"{output_dir} holds files ma-vlm convert did not write ({', '.join(others[:5])}); --overwrite "
            "would delete them. Move them out or choose a new folder"
        )


def check_conversion_output(output_dir: Path, source: Path, overwrite: bool) -> None:
    """Before any work: the output is a folder that is new, empty, or (with `overwrite`) an
    earlier conversion that does not hold the input (`check_replaceable`)."""
    if output_dir.exists() and not output_dir.is_dir():
        raise MaVlmInputError(f"output {output_dir} is a file; give a folder for the converted model")
    if output_dir.exists() and any(output_dir.iterdir()):  # an empty folder has nothing to protect
        if not overwrite:
            raise MaVlmInputError(f"{output_dir} exists and is not empty; choose another folder or pass --overwrite")
        check_replaceable(output_dir, source)


def write_conversion(output_dir: Path, checkpoint, write_files) -> None:
    """Write a converted folder whole or not at all: `write_files(staging)` fills a folder beside
    the target, which gets the completion marker (what `--overwrite` may replace later) and the
    user's umask, then replaces the target."""
    target = Path(output_dir).resolve()  # "." has no name to stage beside
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        write_files(staging)
        mark_complete(staging, CONVERSION_KIND, source=str(checkpoint))
        apply_umask(staging)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
