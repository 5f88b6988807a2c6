"""The paired statistics of every study cell: each arm's change, and each method's contrast with
its controls, on one item resample per measure x domain shared by every arm and seed
(docs/statistics.md).
"""

from __future__ import annotations

from typing import Any

from debiasbench.reports.study_results import ArmRun, StudyCell, StudyContrast, StudyResults
from debiasbench.statistics.change import change, contrast
from debiasbench.statistics.distance import within
from debiasbench.statistics.paired import MIN_ITEMS, aligned, figure, side, weights_seed
from debiasbench.statistics.pairing import shared_weights
from debiasbench.statistics.verdicts import equivalent

__all__ = ["add_cells", "add_contrasts", "aligned_sides", "relearned_sides", "seed_level"]


def aligned_sides(items: dict[tuple[str, str, str], dict[str, list[dict[str, Any]]]]) -> dict[tuple[str, str, str], Any]:
    """(run, measure, domain) -> aligned (before, after) sides."""
    out = {}
    for (run, measure, domain), stages in items.items():
        if "before" in stages and "after" in stages:
            out[(run, measure, domain)] = aligned(side(stages["before"]), side(stages["after"]), f"{run} {measure} {domain}")
    return out


def relearned_sides(items: dict[tuple[str, str, str], dict[str, list[dict[str, Any]]]]) -> dict[tuple[str, str, str], Any]:
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


def seed_level(study: Any) -> bool:
    """Whether the study's intervals include the seed-to-seed term (``seed_level`` not set to false)."""
    return getattr(study, "seed_level", None) is not False


def _change(study: Any, before: Any, afters: list[Any], ideal: float | None, better: str, w: Any, decisions: Any) -> Any:
    return change(before, afters, ideal, better, weights=w, decisions=decisions, min_resamples=study.resamples,
                  seed_term=seed_level(study))


def add_cells(out: StudyResults, sides: dict, domains: list[str], study: Any, relearned: dict | None = None) -> None:
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


def add_contrasts(out: StudyResults, sides: dict, domains: list[str], study: Any, unmatched: dict[tuple[str, str], str]) -> None:
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
                             seed_term=seed_level(study))
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
