"""Sweeps: a TOML grid of runs, validated up front and resumable.

A sweep file has shared run settings at the top level, the axes in ``[grid]`` and per-method
option grids in ``[options.<method>]``::

    results_dir = "results/transfer"
    preset = "quick"
    metrics = ["metric-a", "metric-b"]

    [grid]
    method = ["method-a", "method-b"]       # "none" adds a plain evaluation per model and seed
    domain = ["gender", "race"]
    seed = [0, 1]

    [options.method-a]
    learning_rate = [1e-5, 3e-5]            # a list is an axis; a scalar is a fixed option

Every point becomes a :class:`~debiasbench.run.config.RunConfig`. A point whose
``config_hash()`` is already in ``RESULTS/runs`` is skipped, so rerunning an interrupted sweep
runs only what is missing (a run's ``runs`` row is written last, so a killed run counts as
not done). Points are ordered seed first, so a partial sweep covers every cell once early.

Every key, its type and whether it may be an axis come from the run schema
(:func:`debiasbench.run.config.schema`): a setting added there is a sweep key too.
Option values (``[options.<method>]``, ``[selector_options]``, ``[metric_options.<metric>]``)
are typed against the named plugin objects exactly as ``-o`` / ``-s`` / ``-M`` are, so a sweep
point and the same ``debiasbench run`` have the same configuration hash.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from debiasbench.errors import DebiasbenchError

if TYPE_CHECKING:  # pragma: no cover
    from debiasbench.campaign.executors.base import Executor
    from debiasbench.results.storage import ResultsLocation

from debiasbench.campaign.sweep_file import Sweep, SweepPoint


def done_hashes(results_dir: ResultsLocation) -> set[str]:
    """Config hashes of the runs already complete in ``results_dir`` (their runs row exists), a
    folder or an object-store URI: a sweep resumes from whichever its workers wrote to."""
    from debiasbench.results.storage import open_store
    from debiasbench.results.tables import read_table

    store = open_store(results_dir)
    if not store.exists():
        return set()
    return {h for h in read_table(store, "runs").column("config_hash").to_pylist() if h}


def mark_done(sweep: Sweep) -> Sweep:
    """Set ``done`` on each point whose configuration already ran into its results directory."""
    cache: dict[str, set[str]] = {}
    for point in sweep.points:
        where = str(point.config.results_dir)
        if where not in cache:
            cache[where] = done_hashes(point.config.results_dir)
        point.done = point.config_hash in cache[where]
    return sweep


def validate(sweep: Sweep) -> list[Any]:
    """``plan_run`` every point before any runs, so a typo fails in one line before any work."""
    from debiasbench.run.end_to_end import plan_run
    from debiasbench.plugin_system.loader import get_plugins

    plugins = get_plugins()
    plans = []
    for point in sweep.points:
        try:
            plans.append(plan_run(point.config, plugins))
        except DebiasbenchError as exc:
            raise type(exc)(f"sweep point {point.index} ({point.label()}): {exc}") from None
        point.config = plans[-1].config  # defaults resolved, so its hash is the one the run records
    return plans


# --------------------------------------------------------------------------- running


@dataclass
class SweepReport:
    """What a sweep did."""

    ran: list[str] = field(default_factory=list)  # run ids
    skipped: int = 0
    failed: list[tuple[SweepPoint, str]] = field(default_factory=list)
    interrupted: bool = False  # Ctrl-C: the points finished so far are kept
    retried: int = 0  # attempts repeated because a worker died (parallel executors)
    baselines_computed: int = 0  # baseline evaluations computed ahead of the points (parallel executors)
    baselines_recomputed: int = 0  # baseline evaluations the points computed themselves (0: the warm-ups covered them)


def run_sweep(sweep: Sweep, plans: list[Any], *, log: Callable[[str], None] | None = None,
              run_log: Callable[[str], None] | None = None, executor: Executor | None = None, retries: int = 2,
              warmed: set[str] | None = None, tracking: Any = None) -> SweepReport:
    """Execute every point not yet done. A point that fails (e.g. diverges) is reported and the
    sweep goes on; Ctrl-C stops it (``interrupted``), and the finished points stay done for the rerun.

    Without ``executor`` the points run one after another in this process; with one (Ray, Slurm)
    they run in its workers, after the distinct baselines, and a point whose worker died is
    retried up to ``retries`` times (see :mod:`debiasbench.campaign.executors`). ``tracking``: the
    parent tracker run (:mod:`debiasbench.campaign.tracked`) that gets a child run per point."""
    from debiasbench.campaign.tracked import log_failed_point, log_point
    from debiasbench.run.end_to_end import execute
    from debiasbench.runtime.progress import progress

    say = log or (lambda message: None)
    report = SweepReport(skipped=len(sweep.points) - len(sweep.todo))
    if executor is not None:
        return _run_on(executor, sweep, report, retries, warmed, say, tracking)
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
                if tracking:
                    log_failed_point(tracking, point.label(), str(exc))
            else:
                report.ran.append(result.run_id)
                say(f"point {point.index} done in {time.perf_counter() - started:.0f}s: run {result.run_id}")
                if tracking:
                    log_point(tracking, point.label(), result)
            bar.advance(1, done=len(report.ran), failed=len(report.failed))
    return report


def _run_on(executor: Executor, sweep: Sweep, report: SweepReport, retries: int, warmed: set[str] | None,
            say: Callable[[str], None], tracking: Any = None) -> SweepReport:
    """The points not yet done, on a parallel executor (tracked from their stored records)."""
    from debiasbench.campaign.executors.points import run_points
    from debiasbench.campaign.tracked import log_failed_point, log_stored_point

    todo = {p.index: p for p in sweep.todo}
    done = run_points(executor, [(p.index, p.label(), p.config) for p in todo.values()], retries=retries, warmed=warmed, log=say)
    if tracking:
        for index, run_id in done.ran:
            log_stored_point(tracking, todo[index].label(), todo[index].config.results_dir, run_id)
        for index, message in done.failed:
            log_failed_point(tracking, todo[index].label(), message)
    report.ran = [run_id for _, run_id in done.ran]
    report.failed = [(todo[index], message) for index, message in done.failed]
    report.interrupted, report.retried = done.interrupted, done.retried
    report.baselines_computed, report.baselines_recomputed = done.baselines_computed, done.computed_by_points
    return report
