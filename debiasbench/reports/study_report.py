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
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from debiasbench.statistics.paired import MIN_ITEMS, aligned, figure, load_items, side, weights_seed
from debiasbench.statistics.change import change, contrast
from debiasbench.statistics.distance import within
from debiasbench.statistics.multiplicity import adjust
from debiasbench.statistics.pairing import shared_weights
from debiasbench.statistics.verdicts import beats_all, equivalent, verdict
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
    p: float  # p of the change (delta and d_delta are one linear quantity): McNemar or crossed t
    per_seed_d_delta: tuple[float, ...]
    delta_p: float = float("nan")  # the same test as p (kept for the change tables)
    in_family: bool = False
    p_holm: float | None = None
    q_bh: float | None = None
    test: str = "t"
    crossed: bool = False
    past: float = 0.0
    past_p: float = float("nan")
    mde: float = float("nan")  # smallest |d_delta| detected with 80 % power at two-sided 0.05
    p_floor: float = 0.0  # the smallest p the cell's test could give (McNemar: 2 * 0.5**discordant)
    change: Any = field(default=None, repr=False, compare=False)  # the statistics.Change (pooled claims)
    survival: Any = None  # survival.Survival: the share of the change left after --relearn-steps (every seed relearned)


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
    p: float  # two-sided
    per_seed_effect: tuple[float, ...]
    in_family: bool = False
    p_holm: float | None = None
    q_bh: float | None = None
    p_better: float = float("nan")  # one-sided: the method moved closer than the control
    mde: float = float("nan")
    equivalent: bool = False  # TOST within the study's margin
    not_tested: str = ""  # why the contrast is shown but not tested (an unmatched control)
    contrast: Any = field(default=None, repr=False, compare=False)  # the statistics.Contrast (pooled claims)


@dataclass
class StudyClaim:
    """One tested claim of a method cell: it beats every control (or, without controls, it changed)."""

    method: str
    source: str
    domain: str
    measure: str
    family: str  # "same-domain" | "cross-domain"
    controls: tuple[str, ...]
    estimate: float  # the method's d_delta minus the strongest control's (or its own d_delta)
    interval: tuple[float, float]
    p: float  # intersection-union p (one-sided) or the change's two-sided p
    mde: float
    p_holm: float | None = None
    q_bh: float | None = None
    verdict: str = "inconclusive"  # closer | farther | equivalent | inconclusive
    not_tested: str = ""  # why no test (e.g. a control without results)


@dataclass
class PooledClaim:
    """The headline transfer claim of a method: its cross-domain cells (evaluated domain other than
    the source, every family measure) pooled, beyond each control; it holds when it holds against
    every control (intersection-union)."""

    method: str
    cells: int
    controls: tuple[str, ...]
    estimate: float  # mean distance difference beyond the strongest control (negative = the method ends closer)
    interval: tuple[float, float]
    p: float  # intersection-union one-sided p (or the two-sided p of the change without controls)
    mde: float
    per_control: dict[str, tuple[float, tuple[float, float], float]] = field(default_factory=dict)  # control -> estimate, CI, p
    p_holm: float | None = None
    verdict: str = "inconclusive"
    not_tested: str = ""


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
    claims: list[StudyClaim] = field(default_factory=list)
    pooled: list[PooledClaim] = field(default_factory=list)
    matching: list[dict[str, Any]] = field(default_factory=list)  # per control run: matched or why not, the cost of both arms
    cost: str | None = None  # the cost measure (cost_measure: perplexity unless the study names another)
    costs: dict[str, tuple[float, float]] = field(default_factory=dict)  # run -> the cost measure before, after (the damage axis)
    damage: dict[str, str] = field(default_factory=dict)  # run -> its damage line (docs/damage.md); absent: undamaged
    families: dict[str, int] = field(default_factory=dict)  # family name -> members
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
    from debiasbench.campaign.study import runs_by_hash
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
    out.measures = _measures(metric_rows)
    unknown = [m for m in study.family.measures if m not in out.measures]
    if unknown:
        raise DebiasbenchError(f"study family measure {unknown[0]!r} is not a per-item measure of these runs; "
                               f"measures: {', '.join(sorted(out.measures))}")
    out.trajectories = [r for r in read_table(results_dir, "trajectories").to_pylist() if r["run_id"] in run_ids]
    items = load_items(results_dir, run_ids, SPLIT)
    sides = _sides(items)
    domains = sorted({d for (_, _, d) in items})
    _cells(out, sides, domains, study, _relearned_sides(items))
    by_run: dict[str, list[dict[str, Any]]] = {}
    for r in metric_rows:
        by_run.setdefault(r["run_id"], []).append(r)
    cost = out.cost = cost_measure(study, metric_rows)
    out.costs = {run: pair for run, rows in by_run.items() if cost and (pair := _before_after(rows, cost)) is not None}
    unmatched = _matching(out, by_run)
    out.damage = _damage(metric_rows)
    _contrasts(out, sides, domains, study, unmatched)
    _claims(out, study)
    _adjust(out)
    _pooled(out, study)
    return out


def _matching(out: StudyResults, by_run: dict[str, list[dict[str, Any]]]) -> dict[tuple[str, str], str]:
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


def _damage(metric_rows: Sequence[dict[str, Any]]) -> dict[str, str]:
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


def _before_after(rows: Sequence[dict[str, Any]], measure: str) -> tuple[float, float] | None:
    """``measure``'s before and after on its first domain (the overall row of a cost such as perplexity)."""
    mine = [r for r in rows if r["measure"] == measure]
    stage = {r["stage"]: r["value"] for r in mine if r["domain"] == mine[0]["domain"]} if mine else {}
    return (stage["before"], stage["after"]) if "before" in stage and "after" in stage else None


def _sides(items: dict[tuple[str, str, str], dict[str, list[dict[str, Any]]]]) -> dict[tuple[str, str, str], Any]:
    """(run, measure, domain) -> aligned (before, after) sides."""
    out = {}
    for (run, measure, domain), stages in items.items():
        if "before" in stages and "after" in stages:
            out[(run, measure, domain)] = aligned(side(stages["before"]), side(stages["after"]), f"{run} {measure} {domain}")
    return out


def _relearned_sides(items: dict[tuple[str, str, str], dict[str, list[dict[str, Any]]]]) -> dict[tuple[str, str, str], Any]:
    """(run, measure, domain) -> the relearned side, for runs with --relearn-steps."""
    return {key: side(stages["relearned"]) for key, stages in items.items() if "relearned" in stages}


def _groups(out: StudyResults) -> dict[tuple[str, str], list[ArmRun]]:
    groups: dict[tuple[str, str], list[ArmRun]] = {}
    for r in sorted(out.runs, key=lambda r: r.seed):
        groups.setdefault((r.arm, r.source), []).append(r)
    return groups


def _in_family(study: Any, measure: str, domain: str) -> bool:
    return measure in study.family.measures and (study.family.domains is None or domain in study.family.domains)


def _weights(study: Any, figures: list[Any], measure: str, domain: str) -> Any:
    """The one item resample of ``measure`` x ``domain``, shared by every arm and seed of the study."""
    return shared_weights(figures, study.resamples, weights_seed(measure, domain), min_resamples=study.resamples)


def _seed_level(study: Any) -> bool:
    return getattr(study, "seed_level", None) is not False


def _change(study: Any, before: Any, afters: list[Any], ideal: float | None, better: str, w: Any, decisions: Any) -> Any:
    return change(before, afters, ideal, better, weights=w, decisions=decisions, min_resamples=study.resamples,
                  seed_term=_seed_level(study))


def _cells(out: StudyResults, sides: dict, domains: list[str], study: Any, relearned: dict | None = None) -> None:
    small: dict[tuple[str, str], int] = {}
    for (arm, source), runs in _groups(out).items():
        for measure, (ideal, better, aggregate) in out.measures.items():
            for domain in domains:
                pairs = [sides.get((r.run_id, measure, domain)) for r in runs]
                if any(p is None for p in pairs):
                    continue
                if any(len(p[0].item) < MIN_ITEMS for p in pairs):  # type: ignore[index]
                    small[(measure, domain)] = min(len(p[0].item) for p in pairs)  # type: ignore[index]
                    continue
                before = figure(pairs[0][0], aggregate)  # type: ignore[index]
                afters = [figure(a, aggregate) for _, a in pairs]  # type: ignore[misc]
                decisions = None
                if len(pairs) == 1 and all(d is not None for d in [*pairs[0][0].decision, *pairs[0][1].decision]):  # type: ignore[index]
                    decisions = (pairs[0][0].decision.astype(bool), pairs[0][1].decision.astype(bool))  # type: ignore[index]
                w = _weights(study, [before, *afters], measure, domain)
                c = _change(study, before, afters, ideal, better, w, decisions)
                first = runs[0]
                out.cells.append(StudyCell(
                    arm, first.method, first.control, source, domain, measure, tuple(r.seed for r in runs), c.n,
                    c.before, c.after, c.delta.value, tuple(c.delta_ci), c.d, tuple(c.d_ci), c.d_p,  # type: ignore[arg-type]
                    tuple(c.distance.per_seed if c.distance is not None else c.d_delta.per_seed), delta_p=c.p, in_family=first.control is None and _in_family(study, measure, domain),
                    test=c.test, crossed=c.crossed, past=c.past.value if c.crossed else 0.0, past_p=c.past_p,  # type: ignore[union-attr]
                    mde=c.d_delta.mde(), p_floor=c.p_floor, change=c,
                    survival=_survival(pairs, [(relearned or {}).get((r.run_id, measure, domain)) for r in runs], aggregate, w, c)))
    for (measure, domain), n in sorted(small.items()):
        out.notes.append(f"{measure} on {domain}: {n} test items per run, fewer than the {MIN_ITEMS} a paired interval needs; "
                         "not analysed (raise eval_limit or lower dev_fraction)")


def _survival(pairs: list[Any], relearned: list[Any], aggregate: str, w: Any, c: Any) -> Any:
    """The cell's survival on its shared resample where every seed relearned, else None."""
    if not relearned or any(r is None for r in relearned):
        return None
    from debiasbench.statistics.survival import survival

    for (b, _), r in zip(pairs, relearned):
        aligned(b, r, "before and relearned")
    return survival(figure(pairs[0][0], aggregate), [figure(a, aggregate) for _, a in pairs],
                    [figure(r, aggregate) for r in relearned], w, tuple(c.delta_ci))


def _contrasts(out: StudyResults, sides: dict, domains: list[str], study: Any, unmatched: dict[tuple[str, str], str]) -> None:
    groups = _groups(out)
    margin = getattr(study, "equivalence_margin", None)
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
                before = figure(sides_of[0][0][0], aggregate)  # type: ignore[index]
                method = [figure(ms[1], aggregate) for ms, _ in sides_of]  # type: ignore[index]
                control = [figure(cs[1], aggregate) for _, cs in sides_of]  # type: ignore[index]
                w = _weights(study, [before, *method, *control], measure, domain)
                d = contrast(before, method, control, ideal, better, weights=w, min_resamples=study.resamples,
                             seed_term=_seed_level(study))
                same = bool(margin) and (within(d.distance, margin) if d.distance is not None else equivalent(d.effect, margin))
                per_seed = d.distance.per_seed if d.distance is not None else d.effect.per_seed
                why = unmatched.get((arm, source), "")
                nan = float("nan")
                out.contrasts.append(StudyContrast(
                    first.method, first.control, source, domain, measure, tuple(m.seed for m, _ in paired),
                    d.method_d_delta, d.control_d_delta, d.value, tuple(d.effect_ci), nan if why else d.p,  # type: ignore[arg-type]
                    tuple(per_seed), in_family=_in_family(study, measure, domain), p_better=nan if why else d.p_better,
                    mde=d.mde(), equivalent=same and not why, not_tested=f"control not matched ({why})" if why else "",
                    contrast=None if why else d))


def family_of(source: str, domain: str) -> str:
    """Same-domain claims (the unlearned domain) and cross-domain claims (transfer) are separate families."""
    return "same-domain" if domain == source else "cross-domain"


def _claims(out: StudyResults, study: Any) -> None:
    """One claim per method cell in the family: it beats every control that ran for it (intersection-
    union), or, for a method without controls, it changed."""
    margin = getattr(study, "equivalence_margin", None)
    contrasts: dict[tuple[str, str, str, str], list[StudyContrast]] = {}
    for c in out.contrasts:
        contrasts.setdefault((c.method, c.source, c.domain, c.measure), []).append(c)
    for cell in out.cells:
        if cell.control is not None or not cell.in_family:
            continue
        expected = tuple(sorted({a.control for a in getattr(study, "arms", []) if a.control and a.method_label == cell.arm}))
        mine = contrasts.get((cell.arm, cell.source, cell.domain, cell.measure), [])
        family = family_of(cell.source, cell.domain)
        if expected:
            ran = tuple(sorted(c.control for c in mine))
            missing = [name for name in expected if not any(r == name for r in ran)]
            refused = [f"{c.control}: {c.not_tested}" for c in mine if c.not_tested]
            if missing or not mine or refused:
                why = (f"control {', '.join(missing) or 'results'} missing: not tested" if missing or not mine
                       else "not tested: " + "; ".join(refused))
                out.claims.append(StudyClaim(cell.arm, cell.source, cell.domain, cell.measure, family, ran, float("nan"),
                                             (float("nan"), float("nan")), float("nan"), float("nan"), not_tested=why))
                continue
            strongest = max(mine, key=lambda c: c.effect)  # the control the method beats by the least
            p = beats_all(mine)
            out.claims.append(StudyClaim(cell.arm, cell.source, cell.domain, cell.measure, family, ran, strongest.effect,
                                         strongest.effect_ci, p, max(c.mde for c in mine)))
            out.claims[-1].verdict = "equivalent" if margin and all(c.equivalent for c in mine) else "inconclusive"
        else:
            out.claims.append(StudyClaim(cell.arm, cell.source, cell.domain, cell.measure, family, (), cell.d_delta,
                                         cell.d_delta_ci, cell.p, cell.mde))
            if margin and cell.d_delta_ci[0] > -margin and cell.d_delta_ci[1] < margin:
                out.claims[-1].verdict = "equivalent"


def _adjust(out: StudyResults) -> None:
    """Holm and BH within each named family of claims; the verdicts follow the Holm-adjusted p."""
    if not out.claims:
        out.notes.append(f"the family {out.family!r} has no cell with results yet: no adjusted p")
        return
    for family in ("same-domain", "cross-domain"):
        members = [c for c in out.claims if c.family == family and not math.isnan(c.p)]
        out.families[family] = len(members)
        if not members:
            continue
        adjusted = adjust([m.p for m in members], f"{out.family}: {family}")
        for member, holm, bh in zip(members, adjusted.holm, adjusted.bh):
            member.p_holm, member.q_bh = holm, bh
            if holm < 0.05:
                member.verdict = "closer" if member.estimate < 0 else "farther"
    for cell in out.cells:  # the per-cell marks follow the claim of the method cell they belong to
        claim = next((c for c in out.claims if (c.method, c.source, c.domain, c.measure) == (cell.arm, cell.source, cell.domain, cell.measure)), None)
        if claim is not None and not claim.controls:
            cell.p_holm, cell.q_bh = claim.p_holm, claim.q_bh
    for con in out.contrasts:
        claim = next((c for c in out.claims if (c.method, c.source, c.domain, c.measure) == (con.method, con.source, con.domain, con.measure)), None)
        if claim is not None:
            con.p_holm, con.q_bh = claim.p_holm, claim.q_bh


def _pooled(out: StudyResults, study: Any) -> None:
    """One pooled cross-domain claim per method (docs/statistics.md, "The pooled transfer claim"):
    its cross-domain family cells averaged with their test items as weights (the per-item average
    effect; fixed by the design, not by the results), Holm-adjusted across methods."""
    from debiasbench.statistics.change import pooled_beyond, pooled_change
    from debiasbench.statistics.verdicts import equivalent

    margin = getattr(study, "equivalence_margin", None)
    seed_term = _seed_level(study)
    for method in dict.fromkeys(c.arm for c in out.cells if c.control is None):
        cells = [c for c in out.cells if c.control is None and c.arm == method and c.in_family and c.domain != c.source]
        if not cells:
            continue
        keys = {(c.source, c.domain, c.measure) for c in cells}
        mine = [c for c in out.contrasts if c.method == method and (c.source, c.domain, c.measure) in keys]
        controls = tuple(sorted({c.control for c in mine}))
        expected = tuple(sorted({a.control for a in getattr(study, "arms", []) if a.control and a.method_label == method}))
        refused = sorted({f"{c.control} ({c.source})" for c in mine if c.not_tested})
        if expected and (set(expected) - set(controls) or refused):
            why = "not tested: " + ("unmatched controls " + ", ".join(refused) if refused
                                    else "control " + ", ".join(sorted(set(expected) - set(controls))) + " missing")
            out.pooled.append(PooledClaim(method, len(cells), controls, math.nan, (math.nan, math.nan), math.nan, math.nan,
                                          not_tested=why))
            continue
        if expected:
            per: dict[str, Any] = {}
            items = {(c.source, c.domain, c.measure): c.n for c in cells}
            for control in controls:
                theirs = [c for c in mine if c.control == control]
                if len(theirs) != len(cells):
                    continue
                per[control] = pooled_beyond([c.contrast for c in theirs], [items[(c.source, c.domain, c.measure)] for c in theirs],
                                             seed_term, [c.source for c in theirs])
            if len(per) != len(controls):
                out.pooled.append(PooledClaim(method, len(cells), controls, math.nan, (math.nan, math.nan), math.nan, math.nan,
                                              not_tested="not tested: a control lacks some of the method's cross-domain cells"))
                continue
            strongest = max(per, key=lambda k: per[k].value)  # the control the method beats by the least
            e = per[strongest]
            claim = PooledClaim(method, len(cells), controls, e.value, e.interval(), max(v.p_below(0.0) for v in per.values()), e.mde(),
                                per_control={k: (v.value, v.interval(), v.p_below(0.0)) for k, v in per.items()})
            if margin and all(equivalent(v, margin) for v in per.values()):
                claim.verdict = "equivalent"
        else:
            e = pooled_change([c.change for c in cells], [c.n for c in cells], seed_term, [c.source for c in cells])
            claim = PooledClaim(method, len(cells), (), e.value, e.interval(), e.p_equal(0.0), e.mde())
            if margin and equivalent(e, margin):
                claim.verdict = "equivalent"
        out.pooled.append(claim)
    tested = [c for c in out.pooled if not c.not_tested and not math.isnan(c.p)]
    if tested:
        adjusted = adjust([c.p for c in tested], f"{out.family}: pooled cross-domain")
        for claim, holm in zip(tested, adjusted.holm):
            claim.p_holm = holm
            if holm < 0.05:
                claim.verdict = "closer" if claim.estimate < 0 else "farther"


def _row(kind: str, **values: Any) -> dict[str, Any]:
    keys = ("kind", "arm", "method", "control", "source", "domain", "measure", "family", "seeds", "items", "before", "after",
            "delta", "delta_low", "delta_high", "estimate", "low", "high", "p", "test", "p_holm", "q_bh", "mde", "verdict",
            "crossed", "past", "past_p", "per_seed", "relearned", "survival", "survival_low", "survival_high")
    return {k: values.get(k, kind if k == "kind" else None) for k in keys}


def records(results: StudyResults) -> list[dict[str, Any]]:
    """Cells, contrasts and claims as flat rows (the report's ``cells.csv``). Only claim rows carry
    adjusted p-values: the families are families of claims."""
    rows = []
    for c in results.cells:
        rows.append(_row("change", arm=c.arm, method=c.method, control=c.control or "", source=c.source, domain=c.domain,
                         measure=c.measure, seeds=" ".join(map(str, c.seeds)), items=c.n, before=c.before, after=c.after,
                         delta=c.delta, delta_low=c.delta_ci[0], delta_high=c.delta_ci[1], estimate=c.d_delta,
                         low=c.d_delta_ci[0], high=c.d_delta_ci[1], p=c.p, test=c.test, mde=c.mde, crossed=c.crossed,
                         past=c.past, past_p=c.past_p, per_seed=json.dumps(list(c.per_seed_d_delta)), **_survival_columns(c)))
    for d in results.contrasts:
        rows.append(_row("beyond-control", arm=f"{d.method} - {d.control}", method=d.method, control=d.control, source=d.source,
                         domain=d.domain, measure=d.measure, seeds=" ".join(map(str, d.seeds)), estimate=d.effect,
                         low=d.effect_ci[0], high=d.effect_ci[1], p=d.p, test="t", mde=d.mde,
                         per_seed=json.dumps(list(d.per_seed_effect))))
    for k in results.pooled:
        rows.append(_row("pooled-claim", arm=k.method, method=k.method, control=" & ".join(k.controls), domain="cross-domain (pooled)",
                         family="pooled cross-domain", items=k.cells, estimate=k.estimate, low=k.interval[0], high=k.interval[1],
                         p=k.p, test="intersection-union" if k.controls else "change", p_holm=k.p_holm, mde=k.mde,
                         verdict=k.not_tested or k.verdict))
    for k in results.claims:
        rows.append(_row("claim", arm=k.method, method=k.method, control=" & ".join(k.controls), source=k.source, domain=k.domain,
                         measure=k.measure, family=k.family, estimate=k.estimate, low=k.interval[0], high=k.interval[1], p=k.p,
                         test="intersection-union" if k.controls else "change", p_holm=k.p_holm, q_bh=k.q_bh, mde=k.mde,
                         verdict=k.not_tested or k.verdict))
    return rows


def _survival_columns(c: StudyCell) -> dict[str, Any]:
    s = c.survival
    if s is None:
        return {}
    return {"relearned": s.relearned, "survival": s.value if s.value is not None else "undefined",
            "survival_low": s.ci[0] if s.ci else None, "survival_high": s.ci[1] if s.ci else None}


def write_cells(results: StudyResults, target: Path) -> Path:
    """``cells.csv`` atomically."""
    import csv
    import io

    from debiasbench.runtime.atomic import write_text_atomic

    rows = records(results)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else list(_row("change")))
    writer.writeheader()  # an empty study still gets the header: a reader sees the columns, not a 0-byte file
    writer.writerows(rows)
    write_text_atomic(target, buffer.getvalue())
    return target
