"""The statistics of a study (SPEC section 9), from the results folder alone.

For every arm (a method, or a control of one) x source domain x evaluated domain x measure:
the mean over seeds of the paired change and of the change in distance to the ideal
(``d_delta``), with hierarchical seed-then-item bootstrap intervals on the test items. For every
control, the difference in differences with its method (seeds paired, items shared), and one
family of p-values (the methods' ``d_delta`` and every difference from a control) adjusted by
Holm and Benjamini-Hochberg.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from debiasbench.analysis.paired import MIN_ITEMS, aligned, figure, load_items, side
from debiasbench.analysis.statistics import adjust, hierarchical_change, hierarchical_diff_in_diff
from debiasbench.errors import DebiasbenchError
from debiasbench.results.storage import describe

SPLIT = "test"


@dataclass
class StudyCell:
    """One arm x source x evaluated domain x measure, over its seeds."""

    arm: str
    method: str  # the method arm it belongs to
    control: str | None
    source: str
    domain: str
    measure: str
    seeds: tuple[int, ...]
    n: int  # test items per run
    before: float
    after: float
    delta: float
    delta_ci: tuple[float, float]
    d_delta: float
    d_delta_ci: tuple[float, float]
    p: float  # bootstrap p of d_delta
    per_seed_d_delta: tuple[float, ...]
    delta_p: float = float("nan")  # bootstrap p of delta
    in_family: bool = False
    p_holm: float | None = None
    q_bh: float | None = None


@dataclass
class StudyContrast:
    """A method's ``d_delta`` minus its control's (difference in differences), seeds paired."""

    method: str
    control: str
    source: str
    domain: str
    measure: str
    seeds: tuple[int, ...]
    method_d_delta: float
    control_d_delta: float
    effect: float
    effect_ci: tuple[float, float]
    p: float
    per_seed_effect: tuple[float, ...]
    in_family: bool = False
    p_holm: float | None = None
    q_bh: float | None = None


@dataclass
class ArmRun:
    """One finished run of an arm."""

    arm: str
    method: str
    control: str | None
    source: str
    seed: int
    run_id: str
    run: dict[str, Any]


@dataclass
class StudyResults:
    family: str
    cells: list[StudyCell] = field(default_factory=list)
    contrasts: list[StudyContrast] = field(default_factory=list)
    runs: list[ArmRun] = field(default_factory=list)
    measures: dict[str, tuple[float | None, str, str]] = field(default_factory=dict)  # measure -> ideal, better, aggregate
    trajectories: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # arms x source x seed not run yet
    notes: list[str] = field(default_factory=list)


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


def _measures(rows: Sequence[dict[str, Any]]) -> dict[str, tuple[float | None, str, str]]:
    out = {}
    for r in rows:
        if r["aggregate"] and r["better"]:
            out.setdefault(r["measure"], (r["ideal"], r["better"], r["aggregate"]))
    return out


def collect(study: Any) -> StudyResults:
    """Everything the report shows, computed from ``study.results_dir`` (a :class:`Study`)."""
    from debiasbench.orchestration.study import runs_by_hash
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
        raise DebiasbenchError(f"no run of study {study.name!r} is in {describe(results_dir)} yet; run `debiasbench study {study.source}` first")
    run_ids = {r.run_id for r in out.runs}
    metric_rows = [r for r in read_table(results_dir, "metrics").to_pylist() if r["run_id"] in run_ids]
    check_one_protocol(metric_rows)
    out.measures = _measures(metric_rows)
    unknown = [m for m in study.family.measures if m not in out.measures]
    if unknown:
        raise DebiasbenchError(f"study family measure {unknown[0]!r} is not a per-item measure of these runs; "
                               f"measures: {', '.join(sorted(out.measures))}")
    out.trajectories = [r for r in read_table(results_dir, "trajectories").to_pylist() if r["run_id"] in run_ids]
    items = load_items(results_dir, run_ids, SPLIT)
    sides = _sides(items)
    domains = sorted({d for (_, _, d) in items})
    _cells(out, sides, domains, study)
    _contrasts(out, sides, domains, study)
    _adjust(out)
    return out


def _sides(items: dict[tuple[str, str, str], dict[str, list[dict[str, Any]]]]) -> dict[tuple[str, str, str], Any]:
    """(run, measure, domain) -> aligned (before, after) sides."""
    out = {}
    for (run, measure, domain), stages in items.items():
        if "before" in stages and "after" in stages:
            out[(run, measure, domain)] = aligned(side(stages["before"]), side(stages["after"]), f"{run} {measure} {domain}")
    return out


def _groups(out: StudyResults) -> dict[tuple[str, str], list[ArmRun]]:
    groups: dict[tuple[str, str], list[ArmRun]] = {}
    for r in sorted(out.runs, key=lambda r: r.seed):
        groups.setdefault((r.arm, r.source), []).append(r)
    return groups


def _in_family(study: Any, measure: str, domain: str) -> bool:
    return measure in study.family.measures and (study.family.domains is None or domain in study.family.domains)


def _cells(out: StudyResults, sides: dict, domains: list[str], study: Any) -> None:
    for (arm, source), runs in _groups(out).items():
        for measure, (ideal, better, aggregate) in out.measures.items():
            for domain in domains:
                pairs = [sides.get((r.run_id, measure, domain)) for r in runs]
                if any(p is None for p in pairs) or any(len(p[0].item) < MIN_ITEMS for p in pairs):  # type: ignore[index]
                    continue
                figures = [(figure(b, aggregate), figure(a, aggregate)) for b, a in pairs]  # type: ignore[misc]
                s = hierarchical_change(figures, ideal, better, resamples=study.resamples, seed=0)
                first = runs[0]
                out.cells.append(StudyCell(
                    arm, first.method, first.control, source, domain, measure, tuple(r.seed for r in runs), len(pairs[0][0].item),  # type: ignore[index]
                    s.before, s.after, s.delta, tuple(s.delta_ci), s.d_delta, tuple(s.d_delta_ci), s.d_delta_p,  # type: ignore[arg-type]
                    tuple(s.per_seed_d_delta), delta_p=s.delta_p,
                    in_family=first.control is None and _in_family(study, measure, domain)))


def _contrasts(out: StudyResults, sides: dict, domains: list[str], study: Any) -> None:
    groups = _groups(out)
    for (arm, source), control_runs in groups.items():
        first = control_runs[0]
        if first.control is None:
            continue
        method_runs = {r.seed: r for r in groups.get((first.method, source), [])}
        paired = [(method_runs[r.seed], r) for r in control_runs if r.seed in method_runs]
        if not paired:
            continue
        for measure, (ideal, better, aggregate) in out.measures.items():
            for domain in domains:
                sides_of = [(sides.get((m.run_id, measure, domain)), sides.get((c.run_id, measure, domain))) for m, c in paired]
                if any(a is None or b is None for a, b in sides_of) or any(len(a[0].item) < MIN_ITEMS for a, _ in sides_of):  # type: ignore[index]
                    continue
                for (m, c), (ms, cs) in zip(paired, sides_of):
                    aligned(ms[0], cs[0], f"{m.run_id} vs control {c.run_id} {measure} {domain}")  # type: ignore[index]
                figures = [((figure(ms[0], aggregate), figure(ms[1], aggregate)), (figure(cs[0], aggregate), figure(cs[1], aggregate)))  # type: ignore[index]
                           for ms, cs in sides_of]
                d = hierarchical_diff_in_diff(figures, ideal, better, resamples=study.resamples, seed=0)
                out.contrasts.append(StudyContrast(
                    first.method, first.control, source, domain, measure, tuple(m.seed for m, _ in paired),
                    d.method_d_delta, d.control_d_delta, d.effect, tuple(d.effect_ci), d.p, tuple(d.per_seed_effect),  # type: ignore[arg-type]
                    in_family=_in_family(study, measure, domain)))


def _adjust(out: StudyResults) -> None:
    members: list[Any] = [c for c in out.cells if c.in_family] + [c for c in out.contrasts if c.in_family]
    if not members:
        out.notes.append(f"the family {out.family!r} has no cell with results yet: no adjusted p")
        return
    adjusted = adjust([m.p for m in members], out.family)
    for member, holm, bh in zip(members, adjusted.holm, adjusted.bh):
        member.p_holm, member.q_bh = holm, bh


def records(results: StudyResults) -> list[dict[str, Any]]:
    """Cells and contrasts as flat rows (the report's ``cells.csv``)."""
    rows = []
    for c in results.cells:
        rows.append({"kind": "change", "arm": c.arm, "method": c.method, "control": c.control or "", "source": c.source,
                     "domain": c.domain, "measure": c.measure, "seeds": " ".join(map(str, c.seeds)), "items": c.n,
                     "before": c.before, "after": c.after, "delta": c.delta, "delta_low": c.delta_ci[0], "delta_high": c.delta_ci[1],
                     "delta_p": c.delta_p, "estimate": c.d_delta, "low": c.d_delta_ci[0], "high": c.d_delta_ci[1], "p": c.p, "p_holm": c.p_holm,
                     "q_bh": c.q_bh, "per_seed": json.dumps(list(c.per_seed_d_delta))})
    for d in results.contrasts:
        rows.append({"kind": "beyond-control", "arm": f"{d.method} - {d.control}", "method": d.method, "control": d.control,
                     "source": d.source, "domain": d.domain, "measure": d.measure, "seeds": " ".join(map(str, d.seeds)),
                     "items": None, "before": None, "after": None, "delta": None, "delta_low": None, "delta_high": None,
                     "delta_p": None, "estimate": d.effect, "low": d.effect_ci[0], "high": d.effect_ci[1], "p": d.p, "p_holm": d.p_holm,
                     "q_bh": d.q_bh, "per_seed": json.dumps(list(d.per_seed_effect))})
    return rows


def write_cells(results: StudyResults, target: Path) -> Path:
    """``cells.csv`` atomically."""
    import csv
    import io

    from debiasbench.support.atomic import write_text_atomic

    rows = records(results)
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    write_text_atomic(target, buffer.getvalue())
    return target
