"""One way to read a recipe: YAML -> typed dataclasses, `--set SECTION.KEY=VALUE` overrides, and
unknown keys named with a "did you mean".

Depth pretraining (`ma_vlm.pretrain.recipe`) and the spatial MLLM (`ma_vlm.mllm.train`) declare
their sections as dataclasses and read them through `build_section`; both apply `--set` with
`apply_overrides` to the YAML mapping *before* it is typed, so an override is checked exactly like
the same value written in the file: types, ranges and known keys, before any model loads.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import fields, is_dataclass
from pathlib import Path

from ma_vlm.errors import MaVlmInputError


def did_you_mean(name: str, known) -> str:
    """' (did you mean X?)' for the closest known name, or ''."""
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def unknown_keys_error(unknown, known, where: str) -> MaVlmInputError:
    unknown = sorted(map(str, unknown))
    hint = did_you_mean(unknown[0], known) if len(unknown) == 1 else ""
    return MaVlmInputError(f"unknown key(s) {unknown} in recipe section {where!r}{hint}; known: {sorted(known)}")


def read_yaml_mapping(path: str | Path, example: str) -> dict:
    """The YAML file at `path` as a dict ({} when empty); `example` names a recipe to copy."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise MaVlmInputError(f"recipe {path} does not exist; copy one from recipes/ (e.g. {example})")
    try:
        values = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise MaVlmInputError(f"recipe {path} is not valid YAML ({' '.join(str(error).split())})") from None
    if values is not None and not isinstance(values, dict):
        raise MaVlmInputError(f"recipe {path} must be a YAML mapping (model:, data:, train: ...), "
                              f"got {type(values).__name__}; see {example}")
    return values or {}


def apply_overrides(values: dict, overrides: list[str], sections) -> dict:
    """`values` with each `SECTION.KEY=VALUE` of `overrides` set (VALUE read as YAML, so `10` is an
    int and `[1, 2]` a list); `sections` are the names a recipe has. Keys are checked when the
    result is typed, like keys written in the file."""
    import yaml

    values = {key: dict(value) if isinstance(value, dict) else value for key, value in values.items()}
    for override in overrides:
        key, sep, text = override.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot or not name:
            raise MaVlmInputError(f"--set {override!r}: write SECTION.KEY=VALUE, e.g. train.max_steps=10")
        if section not in sections:
            raise MaVlmInputError(f"--set {override!r}: the recipe has no section {section!r}"
                                  f"{did_you_mean(section, sections)}; sections: {', '.join(sections)}")
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError:
            parsed = text
        target = values.get(section)
        if not isinstance(target, dict):
            target = values[section] = {}
        target[name] = parsed
    return values


def typed_value(value, hint, key: str):
    """`value` as the field's type (an int where a float is expected becomes a float), or an
    error naming the key. YAML 1.1 reads `1e-3` (no dot) as a string: say so."""
    allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union \
        else (hint,)  # fmt: skip
    if value is None and type(None) in allowed:
        return None
    for kind in allowed:
        origin = typing.get_origin(kind) or kind
        if origin is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if origin is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if origin in (bool, str, dict, list) and isinstance(value, origin) and not (
                origin is not bool and isinstance(value, bool)):
            return value
    names = " or ".join("null" if k is type(None) else (typing.get_origin(k) or k).__name__ for k in allowed)
    hint_text = ""
    if isinstance(value, str) and float in allowed:
        try:
            float(value)
            hint_text = f" (YAML reads {value} as text: write it with a dot, e.g. {float(value)!r})"
        except ValueError:
            pass
    raise MaVlmInputError(f"recipe key {key} must be {names}, got {type(value).__name__} {value!r}{hint_text}")


def build_section(cls, values, where: str, nested: dict | None = None):
    """An instance of the dataclass `cls` from the mapping `values`: unknown keys and wrong types
    are errors naming `where.key`. `nested` maps a field name to the dataclass of its sub-section
    (for the top level of a recipe)."""
    if values is None:
        return cls()
    if not isinstance(values, dict):
        raise MaVlmInputError(f"recipe section {where!r} must be a mapping, got {type(values).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise unknown_keys_error(unknown, known, where)
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in values.items():
        sub = (nested or {}).get(name)
        key = name if nested else f"{where}.{name}"
        kwargs[name] = build_section(sub, value, name) if sub else typed_value(value, hints[name], key)
    return cls(**kwargs)


def check_ranges(recipe, ranges: dict) -> None:
    """Raise on the first value out of range: `ranges` maps (section, key) to (test, wanted);
    a section may be a dataclass or a dict (a missing dict key is not checked)."""
    for (section, key), (test, wanted) in ranges.items():
        holder = getattr(recipe, section)
        if isinstance(holder, dict):
            if key not in holder:
                continue
            value = holder[key]
        else:
            value = getattr(holder, key)
        if not test(value):
            raise MaVlmInputError(f"recipe key {section}.{key} must be {wanted}, got {value!r}")


def check_dataclass_keys(values: dict, cls, where: str, free=()) -> None:
    """Refuse keys of `values` that are not fields of the dataclass `cls` (e.g. a `train:` section
    of `transformers.TrainingArguments` fields), and values of the wrong type where the field is
    an int, float or bool (optionally or None). Keys in `free` take other values too (`bf16: auto`)."""
    assert is_dataclass(cls)
    known = {f.name: f for f in fields(cls) if f.init}
    unknown = set(values) - set(known)
    if unknown:
        raise unknown_keys_error(unknown, known, where)
    simple = {int, float, bool, type(None)}
    for name, value in values.items():
        hint = known[name].type
        allowed = set(typing.get_args(hint)) if isinstance(hint, types.UnionType) else {hint}
        if name not in free and allowed <= simple and allowed - {type(None)}:
            typed_value(value, hint, f"{where}.{name}")
