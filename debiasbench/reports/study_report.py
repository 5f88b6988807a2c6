"""The statistics of a study (docs/statistics.md), from the results folder alone.

For every arm (a method, or a control of one) x source domain x evaluated domain x measure: the
paired change over seeds and the change in distance to the ideal (``d_delta``, pooled over seeds, past the ideal too), with the crossed
item x seed intervals on the test items (one item resample per measure x domain, shared by every
arm and seed). For every control, the method's ``d_delta`` minus the control's. For every method
cell, the **claim**: "the method moved closer to the ideal than every control did" (an
intersection-union test over its controls; without controls, its own change). Claims form two
named families, same-domain (evaluated = source) and cross-domain (the transfer claim), each
adjusted by Holm and Benjamini-Hochberg, and each gets a verdict: an effect, equivalent within the
declared margin (TOST), or inconclusive, with the cell's minimum detectable effect.

This module reads the results folder and runs the steps in order; the steps live by job in
:mod:`.study_cells` (changes and contrasts), :mod:`.study_matching` (controls matched, damage, cost),
:mod:`.study_claims` (claims, families, pooled claims); the records in :mod:`.study_results`, the
``cells.csv`` rows in :mod:`.study_records`.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from debiasbench.errors import DebiasbenchError
from debiasbench.reports.study_cells import add_cells, add_contrasts, aligned_sides, relearned_sides
from debiasbench.reports.study_claims import add_claims, add_pooled, adjust_claims
from debiasbench.reports.study_matching import before_after, cost_measure, damage_lines, match_controls
from debiasbench.reports.study_results import ArmRun, StudyResults
from debiasbench.results.storage import describe
from debiasbench.results.items import load_items

__all__ = ["SPLIT", "check_one_protocol", "collect", "measures_of"]

SPLIT = "test"


def check_one_protocol(rows: Sequence[dict[str, Any]]) -> None:
    """Refuse a report that mixes protocols: per metric, every run must share protocol and data."""
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    for r in rows:
        for what in ("protocol", "data_checksum"):
            key = (r["metric"], what)
            value = r[what] or ""
            if key in seen and seen[key][0] != value:
                raise DebiasbenchError(f"results from different protocols mixed in one report: metric {r['metric']!r} has a different "
                                       f"{what.replace('_', ' ')} in run {r['run_id']} than in run {seen[key][1]}; "
                                       "give the study its own results_dir or rerun the odd runs")
            seen.setdefault(key, (value, r["run_id"]))


def measures_of(rows: Sequence[dict[str, Any]]) -> dict[str, tuple[float | None, str, str]]:
    """Measure -> (ideal, better, aggregate) of the per-item measures among the metric rows."""
    out = {}
    for r in rows:
        if r["aggregate"] and r["better"]:
            out.setdefault(r["measure"], (r["ideal"], r["better"], r["aggregate"]))
    return out


def collect(study: Any) -> StudyResults:
    """Everything the report shows, computed from ``study.results_dir`` (a :class:`Study`)."""
    from debiasbench.campaign.study_arms import runs_by_hash
    from debiasbench.results.tables import read_table

    results_dir = study.results_dir
    by_hash = runs_by_hash(results_dir)
    out = StudyResults(family=study.family.name)
    for arm in study.arms:
        base = arm.point or arm.controls
        source, seed = base.config.domain or "", base.config.seed
        run = by_hash.get(arm.point.config_hash) if arm.point else None
        if run is None:
            out.missing.append(f"{arm.label} {source} seed {seed}")
            continue
        out.runs.append(ArmRun(arm.label, arm.method_label, arm.control, source, seed, run["run_id"], run))
    if not out.runs:
        raise DebiasbenchError(f"no run of study {study.name!r} is in {describe(results_dir)} yet; run `debiasbench study {shlex.quote(str(study.source))}` first")
    run_ids = {r.run_id for r in out.runs}
    metric_rows = [r for r in read_table(results_dir, "metrics").to_pylist() if r["run_id"] in run_ids]
    check_one_protocol(metric_rows)
    out.measures = measures_of(metric_rows)
    unknown = [m for m in study.family.measures if m not in out.measures]
    if unknown:
        raise DebiasbenchError(f"study family measure {unknown[0]!r} is not a per-item measure of these runs; "
                               f"measures: {', '.join(sorted(out.measures))}")
    out.trajectories = [r for r in read_table(results_dir, "trajectories").to_pylist() if r["run_id"] in run_ids]
    items = load_items(results_dir, run_ids, SPLIT)
    sides = aligned_sides(items)
    domains = sorted({d for (_, _, d) in items})
    add_cells(out, sides, domains, study, relearned_sides(items))
    by_run: dict[str, list[dict[str, Any]]] = {}
    for r in metric_rows:
        by_run.setdefault(r["run_id"], []).append(r)
    cost = out.cost = cost_measure(study, metric_rows)
    out.costs = {run: pair for run, rows in by_run.items() if cost and (pair := before_after(rows, cost)) is not None}
    unmatched = match_controls(out, by_run)
    out.damage = damage_lines(metric_rows)
    add_contrasts(out, sides, domains, study, unmatched)
    add_claims(out, study)
    adjust_claims(out)
    add_pooled(out, study)
    return out
