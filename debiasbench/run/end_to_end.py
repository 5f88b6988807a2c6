"""A run end to end: :func:`plan_run` (validate, resolve), :func:`execute` (load, evaluate,
unlearn, evaluate, record). The API behind ``debiasbench run`` and ``debiasbench eval``."""

from __future__ import annotations

from typing import Any

from debiasbench.run.config import RunConfig
from debiasbench.run.execute import ModelCard, RunResult, execute
from debiasbench.run.plan import Plan, plan_run


def run_experiment(config: RunConfig, log: Any = None, card: ModelCard | None = None) -> RunResult:
    """Plan and execute one run or evaluation, logged to the trackers of ``config.track``; ``card``
    writes a saved model's card (``--save-model``)."""
    from debiasbench.run.tracked import execute_tracked

    return execute_tracked(plan_run(config), log=log, card=card)


__all__ = ["RunConfig", "RunResult", "Plan", "plan_run", "execute", "run_experiment"]
