"""Typed plugin options: ``-o key=value`` strings validated against an options dataclass."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any

from debiasbench.errors import DebiasbenchError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_pairs(pairs: list[str] | None, what: str = "-o") -> dict[str, str]:
    """``["lr=1e-5", "steps=10"]`` -> dict; a pair without ``=`` is an error."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise DebiasbenchError(f"malformed option {pair!r} for {what}: expected key=value, e.g. {what} learning_rate=1e-5")
        owner, dot, name = key.strip().rpartition(".")  # "-M crows-pairs.scoring": keep the metric name's dashes
        out[owner + dot + name.replace("-", "_")] = value.strip()
    return out


def _convert(raw: str, annotation: Any, key: str, owner: str) -> Any:
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType):
        if raw.lower() in ("none", "null", ""):
            return None
        return _convert(raw, args[0], key, owner)
    if origin is typing.Literal:
        choices = typing.get_args(annotation)
        if raw not in choices:
            raise DebiasbenchError(f"option {key}={raw!r} for {owner} must be one of {', '.join(map(str, choices))}")
        return raw
    if origin in (list, tuple):
        items = [_convert(part, args[0] if args else str, key, owner) for part in raw.split(",") if part.strip()]
        return items if origin is list else tuple(items)
    try:
        if annotation is bool:
            if raw.lower() in _TRUE:
                return True
            if raw.lower() in _FALSE:
                return False
            raise ValueError(raw)
        if annotation is int:
            return int(float(raw)) if "e" in raw.lower() and float(raw).is_integer() else int(raw)
        if annotation is float:
            return float(raw)
    except ValueError:
        name = getattr(annotation, "__name__", str(annotation))
        raise DebiasbenchError(f"option {key}={raw!r} for {owner} is not a valid {name}") from None
    return raw


def build_options(cls: type, raw: dict[str, str], owner: str) -> Any:
    """Instantiate the options dataclass ``cls`` from strings; unknown keys get a did-you-mean.

    The dataclass's ``__post_init__`` may raise ValueError for out-of-range values; that
    becomes one clear line too.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, text in raw.items():
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; options: {', '.join(fields) or 'none'}"
            raise DebiasbenchError(f"unknown option {key!r} for {owner}{hint}")
        values[key] = _convert(text, hints[key], key, owner)
    try:
        return cls(**values)
    except (ValueError, TypeError) as exc:
        raise DebiasbenchError(f"invalid options for {owner}: {exc}") from None


def describe_options(cls: type) -> list[dict[str, Any]]:
    """Name, type, default and help of each option (for ``list --json`` and the docs)."""
    hints = typing.get_type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None  # type: ignore[misc]
        )
        type_name = getattr(hints[f.name], "__name__", None) or str(hints[f.name]).replace("typing.", "")
        rows.append({"name": f.name, "type": type_name, "default": default, "help": f.metadata.get("help", "")})
    return rows
