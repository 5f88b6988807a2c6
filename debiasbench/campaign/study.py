"""Running a study: plan its points for the preflight, then run the grid and the controls derivable
now, then the result-matched controls of the runs that finished (docs/study.md). The study file is
read by :mod:`.study_file`, its arms derived by :mod:`.study_arms`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from debiasbench.campaign.study_arms import mark_arms, resolve_pending
from debiasbench.campaign.study_model import Study
from debiasbench.campaign.sweep import done_hashes
from debiasbench.campaign.sweep_file import Sweep, SweepPoint
from debiasbench.errors import DebiasbenchError

if TYPE_CHECKING:  # pragma: no cover
    from debiasbench.campaign.executors.base import Executor
    from debiasbench.plugin_system.registry import Registry

__all__ = ["StudyProgress", "describe", "dumps", "plan_study", "run_study"]


def _plan(points: list[SweepPoint]) -> list[Any]:
    from debiasbench.run.end_to_end import plan_run
    from debiasbench.plugin_system.loader import get_plugins

    plugins = get_plugins()
    plans = []
    for point in points:
        try:
            plans.append(plan_run(point.config, plugins))
        except DebiasbenchError as exc:
            raise type(exc)(f"study point {point.index} ({point.label()}): {exc}") from None
        point.config = plans[-1].config
    return plans


def plan_study(study: Study) -> list[Any]:
    """Plan every point that can be planned now (names, options, domains, results folder); the plans
    feed the preflight (:mod:`debiasbench.campaign.study_preflight`)."""
    plans = _plan([a.point for a in study.arms if a.point is not None])
    for point in study.sweep.points:  # "none" evaluations of the grid
        if not point.config.method:
            plans += _plan([point])
    return plans


@dataclass
class StudyProgress:
    ran: list[str] = field(default_factory=list)
    failed: list[tuple[SweepPoint, str]] = field(default_factory=list)
    interrupted: bool = False
    retried: int = 0
    baselines_computed: int = 0
    baselines_recomputed: int = 0


def run_study(study: Study, registry: Registry, *, log: Callable[[str], None] | None = None,
              run_log: Callable[[str], None] | None = None, executor: Executor | None = None,
              retries: int = 2, tracking: Any = None) -> StudyProgress:
    """Run what is not done: the grid and the controls derivable now, then the result-matched
    controls of the runs that finished. Failures are reported and the study goes on.

    The two phases hold under a parallel ``executor`` too: every run of the first phase has
    finished (its runs row written) before a result-matched control is derived from it. ``tracking``:
    the study's parent tracker run, which gets a child run per run (:mod:`debiasbench.campaign.tracked`)."""
    from debiasbench.campaign.sweep import run_sweep

    progress = StudyProgress()
    warmed: set[str] = set()  # baselines warmed in phase 0 are not warmed again in phase 1
    for phase in range(2):
        if phase == 1:
            resolve_pending(study, registry)
        mark_arms(study)
        points = [p for p in study.sweep.points if not p.config.method]  # plain evaluations of the grid
        points += [a.point for a in study.arms if a.point is not None]
        done, todo = done_hashes(study.results_dir), []
        for p in points:
            if p.config_hash not in done:
                done.add(p.config_hash)  # a point listed twice runs once
                todo.append(p)
        if not todo:
            continue
        plans = _plan(todo)
        report = run_sweep(Sweep(source=study.source, points=todo), plans, log=log, run_log=run_log, executor=executor,
                           retries=retries, warmed=warmed, tracking=tracking)
        progress.ran += report.ran
        progress.failed += report.failed
        progress.retried += report.retried
        progress.baselines_computed += report.baselines_computed
        progress.baselines_recomputed += report.baselines_recomputed
        if report.interrupted:
            progress.interrupted = True
            break
    mark_arms(study)
    return progress


def describe(study: Study) -> dict[str, Any]:
    """The study as JSON-able data (written beside the report)."""
    return {"name": study.name, "source": str(study.source), "family": dataclasses.asdict(study.family),
            "controls": study.controls, "skipped": study.skipped,
            "arms": [{"label": a.label, "method": a.method_label, "control": a.control,
                      "config_hash": a.point.config_hash if a.point else None,
                      "domain": (a.point or a.controls).config.domain if (a.point or a.controls) else None,  # type: ignore[union-attr]
                      "seed": (a.point or a.controls).config.seed if (a.point or a.controls) else None}  # type: ignore[union-attr]
                     for a in study.arms]}


def dumps(study: Study) -> str:
    return json.dumps(describe(study), indent=2, sort_keys=True, default=str)
