"""A sweep file read into typed run configurations: TOML, schema-checked keys, the grid expanded.

The file format is described in :mod:`debiasbench.campaign.sweep`, which runs the points; this
module only reads and types them, so a study (:mod:`debiasbench.campaign.study`) reads its own
file the same way.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
import sys
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from debiasbench.errors import DebiasbenchError
from debiasbench.run.config import (
    RunConfig,
    SchemaField,
    method_selector,
    schema,
    with_typed_options,
)

if TYPE_CHECKING:  # pragma: no cover
    from debiasbench.plugin_system.loader import LoadedPlugins
    from debiasbench.plugin_system.registry import Registry
    from debiasbench.results.storage import ResultsLocation

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


AXES: tuple[str, ...] = tuple(f.name for f in sorted((f for f in schema() if f.setting.axis is not None), key=lambda f: f.setting.axis))
"""Keys that may be lists (axes) in ``[grid]``, in the order points are enumerated (seed outermost)."""

TOP_LEVEL: dict[str, SchemaField] = {f.name: f for f in schema() if f.setting.sweep == "top"}
"""Top-level keys: settings shared by every point (those that are also axes may go under [grid] instead)."""

OPTION_TABLES: dict[str, SchemaField] = {(f.setting.sweep_key or f.name): f for f in schema() if f.setting.sweep == "table"}
"""``[options.<method>]``, ``[selector_options]``, ``[metric_options.<metric>]``: table name -> field."""

TABLES = ("grid", *OPTION_TABLES)
NO_METHOD = "none"
_FIELDS = {f.name: f for f in schema()}


@dataclass
class SweepPoint:
    """One run of the sweep, with whether the results folder already has it."""

    index: int
    config: RunConfig
    done: bool = False

    @property
    def config_hash(self) -> str:
        return self.config.config_hash()

    def label(self) -> str:
        c = self.config
        parts = [c.method or "eval", c.model or "(default model)"]
        if c.method:
            parts.append(str(c.domain))
        parts.append(f"seed {c.seed}")
        parts += [f"{k}={v}" for k, v in sorted(c.method_options.items())]
        return " ".join(parts)


@dataclass
class Sweep:
    """The parsed file: the points in run order and where they write."""

    source: Path
    points: list[SweepPoint] = field(default_factory=list)

    @property
    def todo(self) -> list[SweepPoint]:
        return [p for p in self.points if not p.done]


# --------------------------------------------------------------------------- parsing


def _unknown(key: str, allowed: list[str] | tuple[str, ...], where: str, source: Path) -> DebiasbenchError:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(sorted(allowed))}"
    return DebiasbenchError(f"sweep file {source}: unknown key {key!r} {where}; {hint}")


def _typed(key: str, value: Any, kind: Any, source: Path) -> Any:
    """Check and convert one run setting to its schema type (lists may be comma-separated strings)."""
    where = f"sweep file {source}: {key!r}"
    if typing.get_origin(kind) is list:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise DebiasbenchError(f"{where} must be a list of names, e.g. {key} = [\"a\", \"b\"]")
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise DebiasbenchError(f"{where} must be true or false, got {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise DebiasbenchError(f"{where} must be an integer, got {value!r}")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise DebiasbenchError(f"{where} must be a finite number, got {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise DebiasbenchError(f"{where} must be a string, got {value!r}")
    return Path(value) if kind is Path else value


_NOTED: set[str] = set()


def note(message: str) -> None:
    """One ``note:`` line on stderr, once per process: a choice made for the user, said rather than made silently."""
    if message not in _NOTED:
        _NOTED.add(message)
        sys.stderr.write(f"note: {message}\n")


BOM = "\ufeff"


def read_campaign_file(source: Path, what: str = "sweep file") -> dict[str, Any]:
    try:
        text = source.read_text(encoding="utf-8")
        if text.startswith(BOM):  # an editor's UTF-8 byte-order mark: TOML would call it an invalid statement
            note(f"{what} {source} starts with a UTF-8 byte-order mark; it was ignored")
            text = text[len(BOM):]
        return tomllib.loads(text)
    except FileNotFoundError:
        raise DebiasbenchError(f"{what} {source} does not exist") from None
    except IsADirectoryError:
        raise DebiasbenchError(f"{what} {source} is a folder; pass the TOML file") from None
    except UnicodeDecodeError:
        raise DebiasbenchError(f"{what} {source} is not UTF-8 text; save it as UTF-8 TOML") from None
    except tomllib.TOMLDecodeError as exc:
        raise DebiasbenchError(f"{what} {source} is not valid TOML: {exc}") from None


def _shared(data: dict[str, Any], source: Path) -> dict[str, Any]:
    """The top-level run settings, typed; tables are checked to be tables."""
    shared: dict[str, Any] = {}
    for key, value in data.items():
        if key in TABLES:
            if not isinstance(value, dict):
                raise DebiasbenchError(f"sweep file {source}: {key!r} must be a table ([{key}])")
            continue
        spec = _FIELDS[key].setting if key in _FIELDS else None
        if spec is not None and spec.sweep == "no":
            raise DebiasbenchError(f"sweep file {source}: {key} is not supported in a sweep ({spec.not_in_sweep})")
        if spec is not None and spec.sweep == "grid":
            raise DebiasbenchError(f"sweep file {source}: {key!r} is an axis; put it under [grid], e.g. {key} = [...]")
        if key not in TOP_LEVEL:
            raise _unknown(key, [*TOP_LEVEL, *TABLES], "at the top level", source)
        kind = TOP_LEVEL[key].annotation
        if isinstance(value, list) and typing.get_origin(kind) is not list:
            raise DebiasbenchError(f"sweep file {source}: {key!r} is a list at the top level; put axes under [grid]")
        shared[key] = _typed(key, value, kind, source)
    return shared


def _axes(grid: dict[str, Any], shared: dict[str, Any], source: Path) -> dict[str, list[Any]]:
    """``[grid]``: each key an axis (a scalar is a one-value axis), typed; method and domain checked."""
    axes: dict[str, list[Any]] = {}
    for key, value in grid.items():
        if key not in AXES:
            if key in TOP_LEVEL:
                raise DebiasbenchError(f"sweep file {source}: {key!r} is a shared setting, not an axis; put it at the top level")
            raise _unknown(key, AXES, "in [grid]", source)
        if key in shared:
            raise DebiasbenchError(f"sweep file {source}: {key!r} is given both at the top level and in [grid]; keep one")
        values = value if isinstance(value, list) else [value]
        if not values:
            raise DebiasbenchError(f"sweep file {source}: [grid] {key} is an empty list")
        typed = [_typed(key, v, _FIELDS[key].annotation, source) for v in values]
        unique = {repr(v): v for v in reversed(typed)}  # repr: list values are not hashable
        repeated = [r for r in dict.fromkeys(map(repr, typed)) if [repr(v) for v in typed].count(r) > 1]
        if repeated:
            note(f"{source}: [grid] {key} lists {', '.join(repeated)} more than once; each value runs once")
        axes[key] = [unique[r] for r in dict.fromkeys(map(repr, typed))]
    if "method" not in axes:
        raise DebiasbenchError(f"sweep file {source}: [grid] needs method = [...] (use \"none\" for plain evaluations)")
    if any(m != NO_METHOD for m in axes["method"]) and "domain" not in axes:
        raise DebiasbenchError(f"sweep file {source}: [grid] needs domain = [...]: the source domains to unlearn")
    return axes


def load_sweep(source: Path, results_dir: ResultsLocation | None = None, plugins: LoadedPlugins | None = None,
               track: Sequence[str] = ()) -> Sweep:
    """Parse ``source`` into points with typed options (names and options are checked against the
    installed plugins, or ``plugins``; every point is planned by :func:`validate`). ``track``: the
    command line's ``--track`` values, added to the file's ``track``."""
    source = Path(source)
    return sweep_from_data(read_campaign_file(source), source, results_dir, plugins, track)


def sweep_from_data(data: dict[str, Any], source: Path, results_dir: ResultsLocation | None = None,
                    plugins: LoadedPlugins | None = None, track: Sequence[str] = ()) -> Sweep:
    """:func:`load_sweep` on an already parsed file (a study file is a sweep file plus ``[study]``)."""
    from debiasbench.plugin_system.loader import get_plugins

    shared = _shared(data, source)
    axes = _axes(data.get("grid", {}), shared, source)
    option_grids = _option_grids(data.get("options", {}), list(dict.fromkeys(axes["method"])), source)
    selector_options = dict(data.get("selector_options", {}))
    metric_options: dict[str, dict[str, Any]] = {}
    for metric, values in data.get("metric_options", {}).items():
        if not isinstance(values, dict):
            raise DebiasbenchError(f"sweep file {source}: [metric_options.{metric}] must be a table of key = value")
        metric_options[metric] = dict(values)
    if results_dir is not None:
        shared["results_dir"] = results_dir  # a folder or an object-store URI (RunConfig keeps a URI a string)
    if track:
        shared["track"] = [*shared.get("track", []), *track]
    base = RunConfig(**shared, selector_options=selector_options, metric_options=metric_options)
    registry = (plugins or get_plugins()).registry
    return Sweep(source=source, points=_expand(base, axes, option_grids, registry))


def _option_grids(options: dict[str, Any], methods: list[str], source: Path) -> dict[str, list[dict[str, Any]]]:
    """``[options.<method>]`` tables -> every combination of the listed values, per method."""
    grids: dict[str, list[dict[str, Any]]] = {}
    for method, table in options.items():
        if method not in methods:
            raise _unknown(method, [m for m in methods if m != NO_METHOD], "in [options] (not a method of [grid])", source)
        if not isinstance(table, dict):
            raise DebiasbenchError(f"sweep file {source}: [options.{method}] must be a table of option = value or [values]")
        names = list(table)
        choices = [table[n] if isinstance(table[n], list) else [table[n]] for n in names]
        if any(not c for c in choices):
            raise DebiasbenchError(f"sweep file {source}: an option of [options.{method}] is an empty list")
        grids[method] = [dict(zip(names, combo)) for combo in itertools.product(*choices)]
    return grids


def typed_point(config: RunConfig, registry: Registry) -> RunConfig:
    """The point with its options typed; shared selector options apply only where the method has a selector."""
    if config.selector_options and (config.method is None or
                                    method_selector(registry.method(config.method), config.method_options, registry) is None):
        config = dataclasses.replace(config, selector_options={})
    return with_typed_options(config, registry)


def _expand(base: RunConfig, axes: dict[str, list[Any]], option_grids: dict[str, list[dict[str, Any]]],
            registry: Registry) -> list[SweepPoint]:
    """The cartesian product, in :data:`AXES` order, each point typed; duplicate points (same hash) are dropped."""
    names = [a for a in AXES if a in axes and a not in ("method", "domain")]
    runs: list[tuple[str | None, dict[str, Any], str | None]] = []
    for method in dict.fromkeys(axes["method"]):
        if method == NO_METHOD:
            runs.append((None, {}, None))
            continue
        for options in option_grids.get(method, [{}]):
            for domain in dict.fromkeys(axes["domain"]):
                runs.append((method, options, domain))
    points: list[SweepPoint] = []
    seen: set[str] = set()
    for combo in itertools.product(*(axes[n] for n in names)):
        settings = dict(zip(names, combo))
        for method, options, domain in runs:
            config = dataclasses.replace(base, **settings, method=method, domain=domain, method_options=dict(options),
                                         metrics=list(base.metrics) if base.metrics is not None else None,
                                         eval_domains=list(base.eval_domains) if base.eval_domains else None)
            point = SweepPoint(index=len(points) + 1, config=config)
            try:
                point.config = typed_point(config, registry)
            except DebiasbenchError as exc:
                raise type(exc)(f"sweep point {point.index} ({point.label()}): {exc}") from None
            if point.config_hash in seen:
                continue
            seen.add(point.config_hash)
            points.append(point)
    return points


# --------------------------------------------------------------------------- resume and validation
