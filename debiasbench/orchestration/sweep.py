"""Sweeps: a TOML grid of runs, validated up front and resumable.

A sweep file has shared run settings at the top level, the axes in ``[grid]`` and per-method
option grids in ``[options.<method>]``::

    results_dir = "results/transfer"
    preset = "quick"
    metrics = ["crows-pairs", "stereoset", "perplexity"]

    [grid]
    method = ["mlm-unlearn", "token-ga"]    # "none" adds a plain evaluation per model and seed
    domain = ["gender", "race"]
    seed = [0, 1]

    [options.mlm-unlearn]
    learning_rate = [1e-5, 3e-5]            # a list is an axis; a scalar is a fixed option

Every point becomes a :class:`~debiasbench.orchestration.config.RunConfig`. A point whose
``config_hash()`` is already in ``RESULTS/runs`` is skipped, so rerunning an interrupted sweep
runs only what is missing (a run's ``runs`` row is written last, so a killed run counts as
not done). Points are ordered seed first, so a partial sweep covers every cell once early.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from debiasbench.errors import DebiasbenchError
from debiasbench.orchestration.config import RunConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

AXES: tuple[str, ...] = ("seed", "model", "preset", "forget_set", "split", "eval_limit", "forget_limit", "dtype", "method", "domain")
"""Keys that may be lists (axes) in ``[grid]``, in the order points are enumerated (seed outermost)."""

SHARED: dict[str, type] = {
    "model": str, "forget_set": str, "split": str, "preset": str, "seed": int, "eval_limit": int, "forget_limit": int,
    "dtype": str, "metrics": list, "eval_domains": list, "results_dir": Path, "data_dir": Path, "cache_dir": Path,
    "device": str, "eval_every": int, "save_examples": bool, "use_cache": bool, "trust_remote_code": bool,
}
"""Top-level keys: settings shared by every point, with their types."""

TABLES = ("grid", "options", "selector_options", "metric_options")
NO_METHOD = "none"


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
        parts = [c.method or "eval", c.model]
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


def _typed(key: str, value: Any, kind: type, source: Path) -> Any:
    """Check and convert one shared setting (lists may be given as comma-separated strings)."""
    where = f"sweep file {source}: {key!r}"
    if kind is list:
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
    if not isinstance(value, str):
        raise DebiasbenchError(f"{where} must be a string, got {value!r}")
    return Path(value) if kind is Path else value


def _option_text(value: Any) -> str:
    """Method options travel as strings (like ``-o key=value``); TOML booleans become true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def load_sweep(source: Path, results_dir: Path | None = None) -> Sweep:
    """Parse ``source`` into points (not yet validated against plugins; see :func:`validate`)."""
    source = Path(source)
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DebiasbenchError(f"sweep file {source} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise DebiasbenchError(f"sweep file {source} is not valid TOML: {exc}") from None

    shared: dict[str, Any] = {}
    for key, value in data.items():
        if key in TABLES:
            if not isinstance(value, dict):
                raise DebiasbenchError(f"sweep file {source}: {key!r} must be a table ([{key}])")
            continue
        if key == "save_model":
            raise DebiasbenchError(f"sweep file {source}: save_model is not supported in a sweep (each point would need its own "
                                   "folder); rerun the point you want with `debiasbench run --save-model`")
        if key not in SHARED:
            raise _unknown(key, [*SHARED, *TABLES], "at the top level", source)
        if isinstance(value, list) and SHARED[key] is not list:
            raise DebiasbenchError(f"sweep file {source}: {key!r} is a list at the top level; put axes under [grid]")
        shared[key] = _typed(key, value, SHARED[key], source)

    grid = data.get("grid", {})
    axes: dict[str, list[Any]] = {}
    for key, value in grid.items():
        if key not in AXES:
            if key in SHARED:
                raise DebiasbenchError(f"sweep file {source}: {key!r} is a shared setting, not an axis; put it at the top level")
            raise _unknown(key, AXES, "in [grid]", source)
        if key in shared:
            raise DebiasbenchError(f"sweep file {source}: {key!r} is given both at the top level and in [grid]; keep one")
        values = value if isinstance(value, list) else [value]
        if not values:
            raise DebiasbenchError(f"sweep file {source}: [grid] {key} is an empty list")
        kind = SHARED.get(key, str)
        axes[key] = [_typed(key, v, kind, source) for v in values]
    if "method" not in axes:
        raise DebiasbenchError(f"sweep file {source}: [grid] needs method = [...] (use \"none\" for plain evaluations)")
    methods = list(dict.fromkeys(axes["method"]))
    if any(m != NO_METHOD for m in methods) and "domain" not in axes:
        raise DebiasbenchError(f"sweep file {source}: [grid] needs domain = [...]: the source domains to unlearn")

    option_grids = _option_grids(data.get("options", {}), methods, source)
    selector_options = {k: _option_text(v) for k, v in data.get("selector_options", {}).items()}
    metric_options: dict[str, dict[str, str]] = {}
    for metric, values in data.get("metric_options", {}).items():
        if not isinstance(values, dict):
            raise DebiasbenchError(f"sweep file {source}: [metric_options.{metric}] must be a table of key = value")
        metric_options[metric] = {k: _option_text(v) for k, v in values.items()}

    if results_dir is not None:
        shared["results_dir"] = Path(results_dir)
    base = RunConfig(**shared, selector_options=selector_options, metric_options=metric_options)
    return Sweep(source=source, points=_expand(base, axes, option_grids))


def _option_grids(options: dict[str, Any], methods: list[str], source: Path) -> dict[str, list[dict[str, str]]]:
    """``[options.<method>]`` tables -> every combination of the listed values, per method."""
    grids: dict[str, list[dict[str, str]]] = {}
    for method, table in options.items():
        if method not in methods:
            raise _unknown(method, [m for m in methods if m != NO_METHOD], "in [options] (not a method of [grid])", source)
        if not isinstance(table, dict):
            raise DebiasbenchError(f"sweep file {source}: [options.{method}] must be a table of option = value or [values]")
        names = list(table)
        choices = [[_option_text(v) for v in (table[n] if isinstance(table[n], list) else [table[n]])] for n in names]
        if any(not c for c in choices):
            raise DebiasbenchError(f"sweep file {source}: an option of [options.{method}] is an empty list")
        grids[method] = [dict(zip(names, combo)) for combo in itertools.product(*choices)]
    return grids


def _expand(base: RunConfig, axes: dict[str, list[Any]], option_grids: dict[str, list[dict[str, str]]]) -> list[SweepPoint]:
    """The cartesian product, in :data:`AXES` order; duplicate points (same hash) are dropped."""
    names = [a for a in AXES if a in axes and a not in ("method", "domain")]
    runs: list[tuple[str | None, dict[str, str], str | None]] = []
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
                                         metrics=list(base.metrics),
                                         eval_domains=list(base.eval_domains) if base.eval_domains else None)
            key = config.config_hash()
            if key in seen:
                continue
            seen.add(key)
            points.append(SweepPoint(index=len(points) + 1, config=config))
    return points


# --------------------------------------------------------------------------- resume and validation


def done_hashes(results_dir: Path) -> set[str]:
    """Config hashes of the runs already complete in ``results_dir`` (their runs row exists)."""
    from debiasbench.results.tables import read_table

    if not Path(results_dir).is_dir():
        return set()
    return {h for h in read_table(Path(results_dir), "runs").column("config_hash").to_pylist() if h}


def mark_done(sweep: Sweep) -> Sweep:
    """Set ``done`` on each point whose configuration already ran into its results folder."""
    cache: dict[Path, set[str]] = {}
    for point in sweep.points:
        folder = Path(point.config.results_dir)
        if folder not in cache:
            cache[folder] = done_hashes(folder)
        point.done = point.config_hash in cache[folder]
    return sweep


def validate(sweep: Sweep) -> list[Any]:
    """``plan_run`` every point before any runs, so a typo fails in one line before any work."""
    from debiasbench.orchestration.run import plan_run
    from debiasbench.plugin_system.loader import get_plugins

    plugins = get_plugins()
    plans = []
    for point in sweep.points:
        try:
            plans.append(plan_run(point.config, plugins))
        except DebiasbenchError as exc:
            raise type(exc)(f"sweep point {point.index} ({point.label()}): {exc}") from None
    return plans


# --------------------------------------------------------------------------- running


@dataclass
class SweepReport:
    """What a sweep did."""

    ran: list[str] = field(default_factory=list)  # run ids
    skipped: int = 0
    failed: list[tuple[SweepPoint, str]] = field(default_factory=list)
    interrupted: bool = False  # Ctrl-C: the points finished so far are kept


def run_sweep(sweep: Sweep, plans: list[Any], *, log: Callable[[str], None] | None = None,
              run_log: Callable[[str], None] | None = None) -> SweepReport:
    """Execute every point not yet done. A point that fails (e.g. diverges) is reported and the
    sweep goes on; Ctrl-C stops it (``interrupted``), and the finished points stay done for the rerun."""
    from debiasbench.orchestration.run import execute
    from debiasbench.support.progress import progress

    say = log or (lambda message: None)
    report = SweepReport(skipped=len(sweep.points) - len(sweep.todo))
    todo = [(p, plan) for p, plan in zip(sweep.points, plans) if not p.done]
    with progress("sweep", total=len(todo)) as bar:
        for number, (point, plan) in enumerate(todo, 1):
            say(f"[{number}/{len(todo)}] point {point.index}: {point.label()}")
            started = time.perf_counter()
            try:
                result = execute(plan, log=run_log)
            except KeyboardInterrupt:
                report.interrupted = True
                break
            except DebiasbenchError as exc:
                report.failed.append((point, str(exc)))
                say(f"point {point.index} failed: {exc}")
            else:
                report.ran.append(result.run_id)
                say(f"point {point.index} done in {time.perf_counter() - started:.0f}s: run {result.run_id}")
            bar.advance(1, done=len(report.ran), failed=len(report.failed))
    return report
