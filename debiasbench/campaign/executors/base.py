"""What every executor shares: the job a worker runs, its outcome, and the engine interface.

A *job* is one grid point (or one baseline warm-up) as plain data: the run's
:class:`~debiasbench.run.config.RunConfig`, the plugins the driver loaded and the
``DEBIASBENCH_*`` environment, so a worker on another machine does exactly what ``debiasbench run``
would do there. An :class:`Executor` only submits jobs to an engine (Ray, Slurm through submitit)
and says which finished; retrying and the progress bar live in :mod:`.dispatch`, once for all engines.
"""

from __future__ import annotations

import dataclasses
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Literal

from debiasbench.run.config import RunConfig

ENV_PREFIX = "DEBIASBENCH_"
"""Environment variables a worker inherits from the driver (data and cache folders, fault injection...)."""


@dataclass(frozen=True)
class PluginSpec:
    """The plugins the driver loaded, by name, so a worker loads the same set: entry points by
    name, and in-process plugin modules (tests register those) by importable module name."""

    entry_points: tuple[str, ...]
    modules: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, loaded: Any) -> PluginSpec:
        points = tuple(s.name for s in loaded.statuses if s.distribution != "(in-process)" and s.status == "ok")
        modules = tuple((s.name, s.module) for s in loaded.statuses if s.distribution == "(in-process)" and s.status == "ok")
        return cls(points, modules)


@dataclass(frozen=True)
class Job:
    """One unit of work for a worker: run a point (``run``) or fill the baseline cache (``baseline``)."""

    kind: Literal["run", "baseline"]
    config: RunConfig
    plugins: PluginSpec
    env: tuple[tuple[str, str], ...] = ()
    attempt: int = 1
    label: str = ""
    index: int = 0  # the point's number in its sweep or study

    def retry(self) -> Job:
        return dataclasses.replace(self, attempt=self.attempt + 1)


def driver_env() -> tuple[tuple[str, str], ...]:
    """The driver's ``DEBIASBENCH_*`` variables, which configure the toolkit in the worker too."""
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(ENV_PREFIX)))


@dataclass
class Outcome:
    """What a worker reports: the run id, or the one-line error of a point that failed for a
    reason a retry cannot fix (bad data, divergence); ``computed`` counts baseline evaluations
    this job computed rather than read from the cache."""

    run_id: str | None = None
    error: str | None = None
    computed: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0


class WorkerLost(Exception):
    """The worker died or its node went away (SIGKILL, out of memory, preemption): the job is retried."""


@dataclass
class Submitted:
    """A job in flight on an engine."""

    job: Job
    handle: Any = field(repr=False)


class Executor(ABC):
    """An engine that runs jobs in workers. ``start`` checks everything that can fail (the engine
    installed, reachable, able to meet the resource request) before any job is submitted."""

    name: str = ""
    parallel: int = 1  # how many jobs may usefully be in flight

    @abstractmethod
    def start(self) -> None:
        """Connect or start the engine; raise DebiasbenchError (one line) if it cannot run the jobs."""

    @abstractmethod
    def submit(self, job: Job) -> Submitted: ...

    @abstractmethod
    def wait(self, pending: list[Submitted], timeout: float) -> list[Submitted]:
        """The jobs of ``pending`` that finished (successfully or not) within ``timeout`` seconds."""

    @abstractmethod
    def result(self, submitted: Submitted) -> Outcome:
        """The finished job's outcome; raise :class:`WorkerLost` if its worker died."""

    def cancel(self, pending: list[Submitted]) -> None:
        """Best effort: stop jobs still in flight (Ctrl-C)."""

    def close(self) -> None:
        """Release what ``start`` acquired (a cluster the driver started is stopped)."""
