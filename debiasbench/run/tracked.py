"""A run logged to the experiment trackers of ``--track`` (docs/tracking.md): one tracker run per
run, opened before the model loads (so a failed run shows as failed) and filled when it finishes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from debiasbench.run.config import RunConfig
from debiasbench.run.execute import RunResult, execute
from debiasbench.run.plan import Plan
from debiasbench.tracking.fanout import Tracking
from debiasbench.tracking.logged import FinishedRun, log_finished


def run_name(config: RunConfig) -> str:
    """What a tracker calls the run: method, model, source domain and seed (the run id is a param)."""
    model = Path(str(config.model or "model")).name
    return f"{config.method or 'eval'} {model} {config.domain or ''} seed {config.seed}".replace("  ", " ")


def finished(result: RunResult) -> FinishedRun:
    """A finished run of this process, as the trackers log it."""
    history = result.outcome.history if result.outcome is not None else []
    return FinishedRun(result.run_row, result.metrics_rows, result.trajectory_rows, history, result.items, result.files)


def log_result(tracking: Tracking, result: RunResult) -> None:
    """The run's params, steps, figures and files into every tracker of ``tracking``."""
    log_finished(tracking, finished(result))  # type: ignore[arg-type]  # Tracking has TrackerRun's methods


def execute_tracked(plan: Plan, log: Any = None, card: Any = None) -> RunResult:
    """:func:`execute` with a tracker run around it (only the main process of a launch logs); ``card``
    as :func:`execute` takes it."""
    from debiasbench.runtime.distributed import ranks

    if not plan.trackers or not ranks().is_main:
        return execute(plan, log=log, card=card)
    tracking = Tracking.start(plan.trackers, run_name(plan.config))
    try:
        result = execute(plan, log=log, card=card)
    except BaseException:
        tracking.finish(failed=True)
        raise
    log_result(tracking, result)
    tracking.finish()
    return result
