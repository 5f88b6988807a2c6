"""Typed plugin options: ``-o key=value`` strings (CLI) or TOML/Python values, checked against an
options dataclass.

:func:`typed_values` is the one conversion: the CLI and sweep files both go through it, so a run
configured either way stores the same typed (JSON-able) values and hashes the same.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping
from typing import Any

from debiasbench.errors import DebiasbenchError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


EXAMPLES = {"-o": ("key=value", "learning_rate=1e-5"), "-s": ("key=value", "top_k=0.2"),
            "-M": ("METRIC.KEY=VALUE", "crows-pairs.scoring=sum")}
"""The form each option flag takes, and an example of it, for the malformed-option message."""


def parse_pairs(pairs: list[str] | None, what: str = "-o") -> dict[str, str]:
    """``["lr=1e-5", "steps=10"]`` -> dict; a pair without ``=`` is an error."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise DebiasbenchError(f"malformed option {pair!r} for {what}: expected {EXAMPLES.get(what, ('key=value', 'key=value'))[0]}, "
                                   f"e.g. {what} {EXAMPLES.get(what, ('', 'key=value'))[1]}")
        owner, dot, name = key.strip().rpartition(".")  # "-M metric-name.key": keep the metric name's dashes
        out[owner + dot + name.replace("-", "_")] = value.strip()
    return out


def parse_owner_pairs(pairs: list[str] | None, what: str = "-M") -> dict[str, dict[str, str]]:
    """``["metric.key=value"]`` -> ``{metric: {key: value}}`` (the form of ``-M``)."""
    out: dict[str, dict[str, str]] = {}
    for key, value in parse_pairs(pairs, what).items():
        owner, dot, name = key.rpartition(".")
        if not dot or not owner or not name:
            raise DebiasbenchError(f"malformed option {key}={value!r} for {what}: expected OWNER.KEY=VALUE, "
                                   f"e.g. {what} METRIC.batch_size=8 (see `debiasbench list metrics`)")
        out.setdefault(owner, {})[name] = value
    return out


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return "one of " + ", ".join(map(str, typing.get_args(annotation)))
    if origin in (typing.Union, types.UnionType):  # int | Literal["auto"] reads "int | auto", not "Union"
        return " | ".join(", ".join(map(str, typing.get_args(a))) if typing.get_origin(a) is typing.Literal
                          else "None" if a is type(None) else _type_name(a) for a in typing.get_args(annotation))
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _finite(value: float, raw: Any, key: str, owner: str) -> float:
    if not math.isfinite(value):
        raise DebiasbenchError(f"option {key}={raw!r} for {owner} must be a finite number")
    return value


def _from_text(raw: str, annotation: Any, key: str, owner: str) -> Any:
    """A string from the command line (or a TOML string) converted to ``annotation``."""
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
            return _finite(float(raw), raw, key, owner)
    except ValueError:
        raise DebiasbenchError(f"option {key}={raw!r} for {owner} is not a valid {_type_name(annotation)}") from None
    return raw  # str, Path and anything else stay text (JSON-able)


def _from_value(value: Any, annotation: Any, key: str, owner: str) -> Any:
    """An already-typed value (TOML, Python) checked against ``annotation``; an int is fine for a float."""
    if annotation is bool:
        ok = isinstance(value, bool)
    elif annotation is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _finite(float(value), value, key, owner)
        ok = False
    elif typing.get_origin(annotation) is None and isinstance(annotation, type) and annotation is not object:
        ok = isinstance(value, annotation)
    else:
        ok = True  # Any or an annotation the core cannot check: the dataclass decides
    if not ok:
        raise DebiasbenchError(f"option {key}={value!r} for {owner} is not a valid {_type_name(annotation)}")
    return value


def convert(value: Any, annotation: Any, key: str, owner: str) -> Any:
    """``value`` (a string or an already-typed value) as ``annotation``; one line when it does not fit."""
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "")):
            if len(args) < len(typing.get_args(annotation)):
                return None
        if len(args) == 1:
            return convert(value, args[0], key, owner)
        for arg in args:  # int | Literal["auto"]: the first type the value fits
            try:
                return convert(value, arg, key, owner)
            except DebiasbenchError:
                continue
        raise DebiasbenchError(f"option {key}={value!r} for {owner} must be {' or '.join(_type_name(a) for a in args)}")
    if origin is typing.Literal:
        choices = typing.get_args(annotation)
        for choice in choices:
            if value == choice and type(value) is type(choice):
                return choice
        raise DebiasbenchError(f"option {key}={value!r} for {owner} must be one of {', '.join(map(str, choices))}")
    if origin in (list, tuple):
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if not isinstance(value, (list, tuple)):
            raise DebiasbenchError(f"option {key}={value!r} for {owner} must be a list (a comma-separated string on the command line)")
        item = args[0] if args else str
        items = [convert(v.strip() if isinstance(v, str) else v, item, key, owner) for v in value]
        return items if origin is list else tuple(items)
    if isinstance(value, str):
        return _from_text(value, annotation, key, owner)
    return _from_value(value, annotation, key, owner)


def typed_values(cls: type, raw: Mapping[str, Any], owner: str, *, keep_unknown: bool = False) -> dict[str, Any]:
    """``raw`` converted field by field to the types of the options dataclass ``cls``.

    Accepts strings (``-o key=value``) and typed values (TOML, Python) alike. Unknown keys get a
    did-you-mean, unless ``keep_unknown`` (for an object that passes options on to another, which
    validates them itself): then they are returned as given.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in fields:
            if keep_unknown:
                values[key] = value
                continue
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; options: {', '.join(fields) or 'none'}"
            raise DebiasbenchError(f"unknown option {key!r} for {owner}{hint}")
        values[key] = convert(value, hints[key], key, owner)
    return values


def build_options(cls: type, raw: Mapping[str, Any], owner: str) -> Any:
    """Instantiate the options dataclass ``cls`` from strings or typed values (see :func:`typed_values`).

    The dataclass's ``__post_init__`` may raise ValueError for out-of-range values; that
    becomes one clear line too.
    """
    values = typed_values(cls, raw, owner)
    try:
        return cls(**values)
    except (ValueError, TypeError) as exc:
        raise DebiasbenchError(f"invalid options for {owner}: {exc}") from None


def check_range(options: Any, name: str, *, at_least: float | None = None, above: float | None = None,
                at_most: float | None = None, below: float | None = None, label: str | None = None) -> None:
    """Raise ``ValueError`` ("beta must be positive, got 0") when option ``name`` of ``options`` is out of range.

    For an options dataclass's ``__post_init__``, whose ValueError planning turns into one line;
    NaN is out of every range, and None (an option switched off) is in. ``label`` replaces the
    name in the message. ``above=0`` reads "positive", ``at_least=n`` "n or more".
    """
    value = getattr(options, name)
    if value is None:
        return
    low = f"{at_least:g} or more" if at_least is not None else ("positive" if above == 0 else f"above {above:g}") if above is not None else ""
    high = f"{at_most:g} or less" if at_most is not None else f"below {below:g}" if below is not None else ""
    wanted = f"between {above:g} and {below:g}" if above is not None and below is not None else " and ".join(p for p in (low, high) if p)
    ok = ((at_least is None or value >= at_least) and (above is None or value > above)
          and (at_most is None or value <= at_most) and (below is None or value < below))
    if not ok:
        raise ValueError(f"{label or name} must be {wanted}, got {value}")


def describe_options(cls: type) -> list[dict[str, Any]]:
    """Name, type, default and help of each option (for ``list --json`` and the docs)."""
    hints = typing.get_type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None  # type: ignore[misc]
        )
        rows.append({"name": f.name, "type": _type_name(hints[f.name]), "default": default, "help": f.metadata.get("help", "")})
    return rows
