"""The claims a study tests, from its cells and contrasts: one per method cell of the family (it
beats every control, or it changed), their two families adjusted by Holm and BH, and the pooled
cross-domain claim of each method (docs/statistics.md).
"""

from __future__ import annotations

import math
from typing import Any

from debiasbench.reports.study_cells import seed_level
from debiasbench.reports.study_results import PooledClaim, StudyClaim, StudyContrast, StudyResults
from debiasbench.statistics.multiplicity import adjust
from debiasbench.statistics.verdicts import beats_all

__all__ = ["add_claims", "add_pooled", "adjust_claims", "family_of"]


def family_of(source: str, domain: str) -> str:
    """Same-domain claims (the unlearned domain) and cross-domain claims (transfer) are separate families."""
    return "same-domain" if domain == source else "cross-domain"


def add_claims(out: StudyResults, study: Any) -> None:
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


def adjust_claims(out: StudyResults) -> None:
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


def add_pooled(out: StudyResults, study: Any) -> None:
    """One pooled cross-domain claim per method (docs/statistics.md, "The pooled transfer claim"):
    its cross-domain family cells averaged with their test items as weights (the per-item average
    effect; fixed by the design, not by the results), Holm-adjusted across methods."""
    from debiasbench.statistics.change import pooled_beyond, pooled_change
    from debiasbench.statistics.verdicts import equivalent

    margin = getattr(study, "equivalence_margin", None)
    seed_term = seed_level(study)
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
