"""How big a sweep or study grid is, how long it may take, and asking before a very large one.

The size is counted from the file's axes before any point is expanded, so a 10^6-point grid is
named at once instead of being expanded silently for minutes. Above :data:`CONFIRM_ABOVE` runs
the command asks (``--yes`` answers); without a terminal to ask on it refuses in one line.
"""

from __future__ import annotations

import math
import statistics
import sys
from typing import Any

from debiasbench.errors import DebiasbenchError

CONFIRM_ABOVE = 500
"""Runs above which ``sweep`` and ``study`` (and their ``--dry-run``) ask for confirmation (docs/study.md)."""

GUIDE_RUN_S = 150.0
"""A run's time when no run has finished yet: the quick preset on the embedded model on 2 CPU cores."""


def _length(value: Any) -> int:
    return len(value) if isinstance(value, list) else 1


def grid_size(data: dict[str, Any]) -> int:
    """Points of a parsed sweep or study file before duplicates are dropped: methods (times their
    option grids and the source domains) times every other axis."""
    grid = data.get("grid") if isinstance(data.get("grid"), dict) else {}
    options = data.get("options") if isinstance(data.get("options"), dict) else {}
    methods = grid.get("method", [])
    methods = list(dict.fromkeys(methods if isinstance(methods, list) else [methods]))
    domains = _length(grid.get("domain", []))
    per_method = 0
    for method in methods:
        if method == "none":
            per_method += 1
            continue
        table = options.get(method) if isinstance(options.get(method), dict) else {}
        per_method += math.prod(_length(v) for v in table.values()) * max(domains, 1)
    others = math.prod(_length(v) for k, v in grid.items() if k not in ("method", "domain"))
    return per_method * others


def estimate(runs: int, durations: list[float]) -> str:
    """``~3.1 h at 2.5 min a run (...)``: the median of the finished runs, else the guide figure."""
    finished = [d for d in durations if d and math.isfinite(d) and d > 0]
    per_run = statistics.median(finished) if finished else GUIDE_RUN_S
    basis = (f"the median of {len(finished)} finished run(s)" if finished
             else "no run finished yet: the quick preset's time on the embedded model on 2 CPU cores")
    total = runs * per_run
    shown = f"{total / 3600:.1f} h" if total >= 3600 else f"{total / 60:.0f} min"
    return f"~{shown} one after another at {per_run / 60:.1f} min a run ({basis})"


def confirm_size(runs: int, yes: bool, what: str) -> None:
    """Ask before ``runs`` above :data:`CONFIRM_ABOVE`; refuse in one line when there is no terminal."""
    if runs <= CONFIRM_ABOVE or yes:
        return
    message = f"{what} has {runs:,} runs, above the {CONFIRM_ABOVE} that need confirmation"
    if not sys.stdin.isatty():
        raise DebiasbenchError(f"{message}; pass --yes to go ahead (there is no terminal to ask on), or shrink the grid")
    import typer

    if not typer.confirm(f"{message} ({estimate(runs, [])}). Go ahead?", default=False, err=True):
        raise DebiasbenchError(f"{message}; not confirmed, nothing was run")


def run_durations(results_dir: Any) -> list[float]:
    """``duration_s`` of the runs finished in ``results_dir`` (for :func:`estimate`); none when unreadable."""
    from debiasbench.results.storage import open_store
    from debiasbench.results.tables import read_table

    try:
        store = open_store(results_dir)
        if not store.exists():
            return []
        return [d for d in read_table(store, "runs").column("duration_s").to_pylist() if d is not None]
    except (DebiasbenchError, OSError):
        return []
