"""The parts of a study report beside the family's statistics: whether each control matched the run
it controls, each run's damage line (docs/damage.md) and the cost (damage) axis of the trade-off.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from debiasbench.reports.study_results import StudyResults

__all__ = ["before_after", "cost_measure", "damage_lines", "match_controls"]


def match_controls(out: StudyResults, by_run: dict[str, list[dict[str, Any]]]) -> dict[tuple[str, str], str]:
    """Ask each control whether its runs match the runs they control (``Control.matched``, given
    each run's metric rows); returns (control arm, source) -> why not, for the contrasts that are
    shown but not tested."""
    from debiasbench.plugin_system.interfaces import ControlledResult
    from debiasbench.plugin_system.loader import get_plugins

    registry = get_plugins().registry
    result = {r.run_id: ControlledResult(r.run_id, r.run, [], by_run.get(r.run_id, [])) for r in out.runs}
    methods = {(r.arm, r.source, r.seed): r for r in out.runs if r.control is None}
    unmatched: dict[tuple[str, str], str] = {}
    for run in out.runs:
        controlled = methods.get((run.method, run.source, run.seed))
        if run.control is None or controlled is None:
            continue
        entry = registry.find("control", run.control)
        reason = (f"control {run.control!r} is not installed here: its match cannot be checked" if entry is None
                  else entry.obj.matched(result[controlled.run_id], result[run.run_id]))
        out.matching.append({"arm": run.arm, "control": run.control, "source": run.source, "seed": run.seed,
                             "method_cost": out.costs.get(controlled.run_id), "control_cost": out.costs.get(run.run_id),
                             "matched": reason is None, "reason": reason or ""})
        if reason is not None:
            unmatched.setdefault((run.arm, run.source), f"seed {run.seed}: {reason}")
    return unmatched


def damage_lines(metric_rows: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Run -> its damage line (docs/damage.md), for the runs the installed damage measures flag."""
    from debiasbench.reports.damage import damage_line, damage_specs, find_damage
    from debiasbench.plugin_system.loader import get_plugins

    found = find_damage(metric_rows, damage_specs(get_plugins().registry))
    return {run: damage_line(found, run) or "" for run in dict.fromkeys(d.run_id for d in found)}


def cost_measure(study: Any, rows: Sequence[dict[str, Any]]) -> str | None:
    """The study's cost (damage) axis: ``[study] tradeoff_measure``, else a utility instrument among
    ``rows`` (trajectory or metric rows) outside the family -- one with no ideal first (perplexity),
    then any (BLiMP accuracy, the unfluent share) --, else the first headline measure with no ideal."""
    if study.tradeoff_measure:
        return str(study.tradeoff_measure)
    from debiasbench.campaign.study_power import measure_specs
    from debiasbench.plugin_system.loader import get_plugins

    specs = measure_specs(get_plugins().registry)
    outside = [r for r in rows if r["measure"] not in study.family.measures]
    utility = [r for r in outside if (spec := specs.get(r["measure"], (None, None))[1]) is not None and spec.utility]
    no_ideal = [r for r in outside if r["headline"] and (r["ideal"] is None or r["ideal"] != r["ideal"])]
    for candidates in ([r for r in utility if r["ideal"] is None or r["ideal"] != r["ideal"]], utility, no_ideal):
        if candidates:
            return str(candidates[0]["measure"])
    return None


def before_after(rows: Sequence[dict[str, Any]], measure: str) -> tuple[float, float] | None:
    """``measure``'s before and after on its first domain (the overall row of a cost such as perplexity)."""
    mine = [r for r in rows if r["measure"] == measure]
    stage = {r["stage"]: r["value"] for r in mine if r["domain"] == mine[0]["domain"]} if mine else {}
    return (stage["before"], stage["after"]) if "before" in stage and "after" in stage else None
