"""The function every engine runs in a worker: one job, exactly as ``debiasbench run`` would run it.

The worker loads the driver's plugin set, plans the point again (the plan holds live plugin
objects, so the configuration travels, not the plan) and executes it; the run writes its records
atomically into the shared results folder, its runs row last. A failure a retry cannot fix (bad
data, a diverged run, a bug) comes back as the outcome's one-line error; only a dead worker is
retried (:class:`~debiasbench.campaign.executors.base.WorkerLost`, raised driver-side).
"""

from __future__ import annotations

import os
import resource
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from debiasbench.errors import DebiasbenchError
from debiasbench.campaign.executors.base import Job, Outcome, PluginSpec

ATTEMPT_ENV = "DEBIASBENCH_ATTEMPT"
"""Set in the worker to the job's attempt (1 for the first): fault injection may fire on one attempt only."""

_loaded: dict[PluginSpec, Any] = {}


def load_spec(spec: PluginSpec) -> Any:
    """The same plugins the driver loaded (cached per worker process, which Ray reuses)."""
    if spec in _loaded:
        return _loaded[spec]
    from importlib import import_module, metadata

    from debiasbench.plugin_system import loader

    found = [ep for ep in metadata.entry_points(group=loader.ENTRY_POINT_GROUP) if ep.name in spec.entry_points]
    missing = sorted(set(spec.entry_points) - {ep.name for ep in found})
    if missing:
        raise DebiasbenchError(f"plugin {missing[0]!r} is not installed on worker {os.uname().nodename}; "
                               "install the driver's packages on every node")
    extra = {name: import_module(module) for name, module in spec.modules}
    loaded = loader.load_plugins(extra=extra, entry_points=found)
    if loader._CACHED is None:  # code that asks for the process-wide plugins sees the same set
        loader._CACHED = loaded
    _loaded[spec] = loaded
    return loaded


@contextmanager
def _environment(job: Job) -> Iterator[None]:
    """The driver's DEBIASBENCH_* variables and the attempt number, for the job's duration."""
    saved = dict(os.environ)
    os.environ.update(dict(job.env))
    os.environ[ATTEMPT_ENV] = str(job.attempt)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_job(job: Job) -> Outcome:
    """Run one job in this process; never raises for a failure of the point itself."""
    from debiasbench.run.baselines import warm
    from debiasbench.run.end_to_end import execute, plan_run

    started, cpu = time.perf_counter(), _cpu_seconds()
    outcome = Outcome()
    with _environment(job):
        try:
            plan = plan_run(job.config, load_spec(job.plugins))
            if job.kind == "baseline":
                outcome.computed = warm(plan)
            else:
                result = execute(plan)
                outcome.run_id, outcome.computed = result.run_id, result.baselines_computed
        except DebiasbenchError as exc:
            outcome.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a bug in one point must not stop the others; the log keeps the traceback
            traceback.print_exc(file=sys.stderr)
            outcome.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
    outcome.seconds, outcome.cpu_seconds = time.perf_counter() - started, _cpu_seconds() - cpu
    return outcome
