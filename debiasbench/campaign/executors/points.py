"""Sweep and study points on a parallel executor: the distinct baselines first, then the points.

Each point becomes a ``run`` job with the driver's plugins and ``DEBIASBENCH_*`` environment.
Before them, one ``baseline`` job per distinct before-evaluation
(:func:`debiasbench.run.baselines.baseline_waves`) fills the baseline cache, so the
points, however many run at once, compute no baseline twice.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from debiasbench.run.baselines import baseline_key, baseline_waves
from debiasbench.run.config import RunConfig
from debiasbench.campaign.executors.base import Executor, Job, PluginSpec, driver_env
from debiasbench.campaign.executors.dispatch import dispatch


@dataclass
class PointsRun:
    """What the executor did with the points (and the baseline warm-ups before them)."""

    ran: list[tuple[int, str]] = field(default_factory=list)  # (point index, run id)
    failed: list[tuple[int, str]] = field(default_factory=list)  # (point index, message)
    baselines_computed: int = 0  # evaluations the warm-ups computed
    computed_by_points: int = 0  # before-evaluations the points computed themselves (0 when the warm-ups covered them)
    retried: int = 0
    interrupted: bool = False
    cpu_seconds: float = 0.0  # CPU time of every job (warm-ups and points), measured in the workers
    warm_up_seconds: float = 0.0  # wall time of the baseline warm-ups, before the first point starts


def _per_run_threads(config: RunConfig, executor: Executor) -> RunConfig:
    """A run without --threads uses the CPUs its task declared, not every core of the node."""
    cpus = int(getattr(executor, "cpus_per_run", 1) or 1)
    return config if config.threads is not None else dataclasses.replace(config, threads=max(1, cpus))


def run_points(executor: Executor, points: list[tuple[int, str, RunConfig]], *, retries: int,
               warmed: set[str] | None = None, log: Callable[[str], None] | None = None) -> PointsRun:
    """Run ``points`` (index, label, configuration) on ``executor``; ``warmed`` holds the baseline
    keys already warmed (a study's second phase reuses its first phase's warm-ups)."""
    from debiasbench.plugin_system.loader import get_plugins

    say = log or (lambda message: None)
    started = time.perf_counter()
    warmed = set() if warmed is None else warmed
    spec, env = PluginSpec.of(get_plugins()), driver_env()
    report = PointsRun()
    configs = [_per_run_threads(c, executor) for _, _, c in points]
    waves = [[c for c in wave if baseline_key(c) not in warmed] for wave in baseline_waves(configs)]
    waves = [wave for wave in waves if wave]
    if waves:
        count = sum(len(wave) for wave in waves)
        say(f"computing the baselines of {count} distinct model and evaluation setting{'s' if count > 1 else ''} before the points")
    for number, wave in enumerate(waves, 1):
        jobs = [Job("baseline", c, spec, env, label=f"baselines of {c.model or 'the default model'} (seed {c.seed})") for c in wave]
        done = dispatch(executor, jobs, retries=retries, description=f"baselines {number}/{len(waves)}", log=say)
        report.retried += done.retried
        report.baselines_computed += sum(o.computed for _, o in done.finished)
        report.cpu_seconds += sum(o.cpu_seconds for _, o in done.finished)
        warmed.update(baseline_key(j.config) for j, o in done.finished if not o.error)
        if done.interrupted:
            report.interrupted = True
            return report
    report.warm_up_seconds = time.perf_counter() - started
    jobs = [Job("run", c, spec, env, label=f"point {index} ({label})", index=index) for (index, label, _), c in zip(points, configs)]
    done = dispatch(executor, jobs, retries=retries, description="points", log=say)
    report.retried += done.retried
    report.interrupted = done.interrupted
    for job, outcome in done.finished:
        report.cpu_seconds += outcome.cpu_seconds
        if outcome.error:
            report.failed.append((job.index, outcome.error))
        else:
            report.ran.append((job.index, outcome.run_id or ""))
            report.computed_by_points += outcome.computed
    report.failed += [(job.index, message) for job, message in done.lost]
    return report
