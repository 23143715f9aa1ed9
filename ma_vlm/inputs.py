"""Checks on what a user hands a command, made before any work starts.

Each raises `MaVlmInputError` with a one-line message that names the input and the fix:
images (readable, at most `MAX_IMAGE_MEGAPIXELS` unless raised), local paths versus Hub ids (a
mistyped local path fails at once instead of going to the Hub), and output locations (a folder
that can be written, and outputs that never land on an input).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ma_vlm.errors import MaVlmInputError

# Refuse larger images unless the user raises the limit: peak memory of `ma-vlm depth` grows
# ~100 bytes per pixel (a 12000 x 12000 image took 14.6 GB and wrote a 2 GB .ply).
MAX_IMAGE_MEGAPIXELS = 50.0

_HUB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_LOCAL_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt", ".json", ".yaml", ".yml", ".mat", ".parquet",
                   ".png", ".jpg", ".npy")


def looks_local(text: str) -> bool:
    """True when `text` can only mean a local path (so a missing one must not go to the Hub)."""
    parts = text.split("/")
    if text.startswith((".", "/", "~")) or "\\" in text or len(parts) < 2:
        return True
    if Path(parts[0]).is_dir():  # runs/teacher with runs/ here: a typo of a local folder
        return True
    return len(parts) == 2 and parts[1].lower().endswith(_LOCAL_SUFFIXES)


def check_hub_id(text: str, what: str, max_parts: int | None = 2) -> None:
    """`text` is not an existing local path; raise unless it can be a Hub id `org/name` (with
    `max_parts=None`, `org/name/path/in/repo`)."""
    parts = text.split("/")
    valid = (not looks_local(text) and len(parts) >= 2 and (max_parts is None or len(parts) <= max_parts)
             and all(_HUB_NAME.match(p) and ".." not in p and "--" not in p for p in parts[:2]))
    if not valid:
        raise MaVlmInputError(
            f"{what} {text!r} is neither a local file or folder (not found) nor a Hub id org/name; "
            "check the path"
        )


# Every Auto* / pipeline load of the project passes these: a folder or Hub repo that names
# Python code (`auto_map`) is refused by Transformers instead of asking "run the custom code?
# [y/N]" (a `y` piped in by a script would run it). `refuse_custom_code` says so in one line first.
NO_REMOTE_CODE = {"trust_remote_code": False}
_CONFIG_FILES = ("config.json", "tokenizer_config.json", "preprocessor_config.json", "processor_config.json",
                 "image_processor_config.json", "video_preprocessor_config.json", "adapter_config.json")


def refuse_custom_code(folder: str | os.PathLike, what: str = "") -> None:
    """Raise when the local model folder `folder` needs custom code: any of its config files
    names an `auto_map` (or a `custom_pipelines` entry). A Hub id or a missing path passes (the
    loaders' own checks handle those, and NO_REMOTE_CODE keeps a Hub repo's code from running)."""
    import json

    folder = Path(folder)
    if not folder.is_dir():
        return
    for name in _CONFIG_FILES:
        try:
            config = json.loads((folder / name).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(config, dict) and (config.get("auto_map") or config.get("custom_pipelines")):
            label = f"{what} {folder}".strip()
            raise MaVlmInputError(f"{label} needs custom code (auto_map in {name}); ma-vlm does not run code from "
                                  "model folders")


def open_image(path: str | os.PathLike, max_megapixels: float = MAX_IMAGE_MEGAPIXELS,
               limit_flag: str | None = "--max-megapixels"):
    """A loaded PIL image, or an error naming the file: missing, unreadable, or larger than
    `max_megapixels` (checked from the header, before any pixel is decoded); `limit_flag` is the
    command's option that raises the limit (None: the command has none)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if path.is_dir():
        raise MaVlmInputError(f"image {path} is a folder, not an image; give an image file")
    if not path.is_file():
        raise MaVlmInputError(f"image {path} not found")
    pillow_limit = Image.MAX_IMAGE_PIXELS
    if pillow_limit is not None:  # let --max-megapixels, not Pillow's bomb guard, decide (then restore it)
        Image.MAX_IMAGE_PIXELS = max(pillow_limit, int(max_megapixels * 1e6))
    try:
        image = Image.open(path)
    except (UnidentifiedImageError, OSError) as error:
        raise MaVlmInputError(f"{path} is not a readable image ({error})") from None
    except Image.DecompressionBombError:
        raise MaVlmInputError(f"{path} is larger than the {max_megapixels:g} MP limit; downscale it"
                              + (f" or raise {limit_flag}" if limit_flag else "")) from None
    finally:
        Image.MAX_IMAGE_PIXELS = pillow_limit
    megapixels = image.width * image.height / 1e6
    if megapixels > max_megapixels:
        image.close()
        raise MaVlmInputError(
            f"{path} is {image.width} x {image.height} ({megapixels:.0f} MP), above the {max_megapixels:g} MP limit "
            "(~100 bytes of memory per pixel); downscale it"
            + (f" or raise the limit with {limit_flag}" if limit_flag else "")
        )
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as error:  # truncated or corrupt pixel data
        raise MaVlmInputError(f"{path} is not a readable image ({error})") from None
    return image


def ensure_output_dir(path: str | os.PathLike, flag: str = "--output") -> Path:
    """Create `path` (and parents) or say why it cannot be written."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise MaVlmInputError(f"{flag} {path} is a file; give a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise MaVlmInputError(f"{flag} {path} cannot be created ({error.strerror}); choose a writable folder") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise MaVlmInputError(f"{flag} {path} is not writable; choose a writable folder")
    return path


def check_output_file(path: str | os.PathLike, flag: str = "--output") -> Path:
    """`path` can be written as a file: not a folder, and in a folder that exists or can be made."""
    path = Path(path)
    if path.is_dir():
        raise MaVlmInputError(f"{flag} {path} is a folder; give a file name (e.g. {path / 'report.json'})")
    ensure_output_dir(path.parent if str(path.parent) else Path("."), flag=f"the folder of {flag}")
    if path.exists() and not os.access(path, os.W_OK):
        raise MaVlmInputError(f"{flag} {path} is read-only; choose another file")
    return path


def check_outputs_spare_inputs(outputs: list[tuple[Path, Path]], inputs: list[Path], flag: str = "--output") -> None:
    """`outputs` pairs each file a command will write with the input it comes from. Raise when
    two inputs would write the same file, or a file to write is one of `inputs`."""
    given = {Path(p).resolve(): Path(p) for p in inputs}
    writers: dict[Path, Path] = {}
    for output, source in outputs:
        resolved = Path(output).resolve()
        if resolved in given:
            raise MaVlmInputError(
                f"{flag} would write {output} over the input {given[resolved]}; choose another output folder"
            )
        if resolved in writers and writers[resolved] != source:
            raise MaVlmInputError(
                f"{writers[resolved]} and {source} would both write {output} (same name); "
                "run them into separate output folders or rename one"
            )
        writers[resolved] = source


def load_prompt_depth(path: Path, height: int, width: int):
    """(H, W) float32 metres, 0 = missing, from .npy (metres) or .png (uint16 millimetres)."""
    import numpy as np
    from PIL import Image

    if not path.is_file():
        raise MaVlmInputError(f"prompt depth not found: {path}")
    if path.suffix == ".npy":
        try:
            raw = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as error:
            raise MaVlmInputError(f"{path} is not a readable .npy array ({error})") from None
        if raw.dtype.kind in "iu":
            raise MaVlmInputError(f"{path} holds integers ({raw.dtype}); a .npy prompt is float metres: if it is "
                                  "millimetres, save depth_mm / 1000 as float32 (or give a 16-bit .png)")
        if raw.dtype.kind != "f":
            raise MaVlmInputError(f"{path} holds {raw.dtype} values; a .npy prompt is float32 metres (0 = missing)")
        depth = raw.astype(np.float32)
    elif path.suffix == ".png":
        raw = np.asarray(Image.open(path))
        if raw.dtype != np.uint16:
            raise MaVlmInputError(f"{path}: a .png prompt must be 16-bit millimetres (uint16), got {raw.dtype}")
        depth = raw.astype(np.float32) / 1000.0
    else:
        raise MaVlmInputError(f"{path}: give the prompt as .npy (metres) or 16-bit .png (millimetres)")
    if not np.isfinite(depth).all() or (depth < 0).any():
        raise MaVlmInputError(f"{path} holds NaN, inf or negative depths; use 0 for missing points")
    if depth.shape != (height, width):
        raise MaVlmInputError(f"{path} is {depth.shape[::-1]} (W, H) but its image is {(width, height)}; "
                              "give the prompt at the image's own size")
    return depth
