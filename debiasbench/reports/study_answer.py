"""The opening of a study report (docs/statistics.md, "The pooled transfer claim"): the answer per
claim written from the statistics, then how well the controls matched the runs they control.

Nothing here computes a statistic: it words the verdicts of :mod:`study_report` so that a reader
who stops after the first paragraph has read what the study found, including what it cannot say
(a null below the MDE is not evidence of no effect)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from debiasbench.reports.study_results import PooledClaim, StudyClaim, StudyResults

Block = tuple

VERDICT_WORDS = {"closer": "effect: closer to the ideal", "farther": "effect: farther from the ideal",
                 "equivalent": "equivalent within the margin", "inconclusive": "inconclusive"}


def fmt(x: float | None, digits: int = 2) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.{digits}f}"


def fmt_p(x: float | None) -> str:
    if x is None or math.isnan(x):
        return "–"
    return "<0.001" if x < 0.001 else f"{x:.3f}"


def claim_rows(claims: Sequence[StudyClaim]) -> list[list[str]]:
    """One row per claim: what it is, the estimate and interval, p, Holm p, MDE, verdict."""
    rows = []
    for k in claims:
        against = f"beats {' & '.join(k.controls)}" if k.controls else "changed"
        if k.not_tested:
            rows.append([k.method, k.source, k.domain, k.measure, against, "–", "–", "–", "–", k.not_tested])
            continue
        rows.append([k.method, k.source, k.domain, k.measure, against,
                     f"{fmt(k.estimate)} [{fmt(k.interval[0])}, {fmt(k.interval[1])}]", fmt_p(k.p), fmt_p(k.p_holm),
                     f"{k.mde:.2f}", VERDICT_WORDS.get(k.verdict, k.verdict)])
    return rows


def pooled_sentence(k: PooledClaim, margin: float | None) -> str:
    """The pooled cross-domain claim in plain words."""
    if k.not_tested:
        return f"{k.method}: the pooled cross-domain claim was {k.not_tested}."
    against = f"the stronger of its controls ({' and '.join(k.controls)})" if k.controls else "before unlearning"
    figure = (f"{fmt(k.estimate)} points [95% CI {fmt(k.interval[0])}, {fmt(k.interval[1])}], one-sided p {fmt_p(k.p)}, "
              f"Holm p {fmt_p(k.p_holm)}, MDE {k.mde:.2f}, over {k.cells} cross-domain cells")
    if k.verdict == "closer":
        lead = (f"Transfer beyond {'every control' if k.controls else 'no change'}: across the domains it did not unlearn, "
                f"{k.method} ends closer to the ideal than {against}")
    elif k.verdict == "farther":
        lead = f"Not transfer but the reverse: across the other domains {k.method} ends farther from the ideal than {against}"
    elif k.verdict == "equivalent":
        lead = (f"No transfer beyond the controls: across the other domains {k.method} and {against} are equivalent "
                f"within ±{margin:g} points")
    else:
        reach = max(abs(k.interval[0]), abs(k.interval[1])) if not math.isnan(k.interval[0]) else float("nan")
        lead = (f"Inconclusive: across the other domains the study cannot tell {k.method} from {against}; effects up to "
                f"{reach:.1f} points either way remain compatible with the data"
                + (f", so it is not shown equivalent within ±{margin:g}" if margin else ""))
    return f"{lead} ({figure}). Negative = the method ends closer to the ideal than the control."


def answer(study: Any, results: StudyResults) -> list[Block]:
    """The report's opening: the pooled transfer claim, then the verdict per claim."""
    blocks: list[Block] = [("h2", "The answer")]
    margin = getattr(study, "equivalence_margin", None)
    if results.pooled:
        blocks.append(("list", [pooled_sentence(k, margin) for k in results.pooled]))
    damaged = [r for r in results.runs if r.run_id in results.damage]
    blocks.append(("p", f"Damage: {len(damaged)} of {len(results.runs)} runs damaged the model beyond a utility threshold "
                        "(docs/damage.md)" + (": " + "; ".join(sorted({f"{r.arm} ({r.source})" for r in damaged}))
                                              + ". Their bias changes may be damage, not debiasing (the Runs table says which measure)."
                                              if damaged else ".")))
    blocks.append(("p", "The pooled claim averages a method's cross-domain cells (evaluated domain other than the source, every "
                        "family measure), each weighted by its test items, of the method's change in distance to the ideal "
                        "minus the control's; it holds when it holds against every control (intersection-union). Each cell "
                        "claim below is tested on the held-out test items the same way. Same-domain and cross-domain claims "
                        "are separate families, each Holm-adjusted; pooled claims are Holm-adjusted across methods. Verdict: "
                        "an effect where the Holm p < 0.05; "
                        + (f"equivalent where the 90% interval lies within ±{margin:g} (TOST); " if margin else
                           "no equivalence margin declared ([study] equivalence_margin), so a null stays inconclusive; ")
                        + "otherwise inconclusive. MDE = the smallest effect detected with 80% power at two-sided 0.05: a "
                        "null says nothing about effects below it."))
    if results.pooled:
        blocks.append(("table", ["method", "cells", "against", "estimate [95% CI]", "p (IUT)", "p_holm", "MDE", "verdict"],
                       [[k.method, str(k.cells), " & ".join(k.controls) or "no control", "–" if k.not_tested else
                         f"{fmt(k.estimate)} [{fmt(k.interval[0])}, {fmt(k.interval[1])}]", fmt_p(k.p), fmt_p(k.p_holm),
                         "–" if math.isnan(k.mde) else f"{k.mde:.2f}", k.not_tested or VERDICT_WORDS.get(k.verdict, k.verdict)]
                        for k in results.pooled]))
        per = [[k.method, c, f"{fmt(v[0])} [{fmt(v[1][0])}, {fmt(v[1][1])}]", fmt_p(v[2])]
               for k in results.pooled for c, v in k.per_control.items()]
        if per:
            blocks.append(("table", ["method", "beyond control", "pooled estimate [95% CI]", "one-sided p"], per))
    headers = ["method", "source", "evaluated", "measure", "claim", "estimate [95% CI]", "p", "p_holm", "MDE", "verdict"]
    for family in ("cross-domain", "same-domain"):
        claims = [k for k in results.claims if k.family == family]
        if not claims:
            continue
        counts = {v: sum(k.verdict == v and not k.not_tested for k in claims) for v in VERDICT_WORDS}
        summary = ", ".join(f"{n} {VERDICT_WORDS[v]}" for v, n in counts.items() if n)
        blocks.append(("h3", f"{family.capitalize()} claims ({len(claims)}: {summary or 'none tested'})"))
        blocks.append(("table", headers, claim_rows(claims)))
    return blocks


def _info(run: dict[str, Any]) -> dict[str, Any]:
    info = run.get("method_info") or {}
    return json.loads(info) if isinstance(info, str) else dict(info)


def controls_blocks(results: StudyResults) -> list[Block]:
    """How each control run matched the run it controls: perplexity of both on the held-out text,
    and the random-tokens draws (overlap with the method's tokens, identity-term counts)."""
    blocks: list[Block] = []
    if results.matching:
        blocks.append(("h2", "Controls: matched or refused"))
        blocks.append(("p", "A control's contrast is tested only where every seed's control run matched its method run "
                            "(benign-ga: held-out perplexity increase within ±10% of the method's); otherwise it is shown "
                            "with the reason and not tested."))
        rows = []
        for m in results.matching:
            def cost(pair: Any) -> str:
                return "–" if pair is None else f"{pair[0]:.2f} -> {pair[1]:.2f} ({pair[1] / pair[0] - 1:+.2%})"
            rows.append([m["arm"], m["source"], str(m["seed"]), cost(m["method_cost"]), cost(m["control_cost"]),
                         "matched" if m["matched"] else m["reason"]])
        name = results.cost or "cost"
        blocks.append(("table", ["control", "source", "seed", f"method {name}", f"control {name}", "match"], rows))
    draws = [(r, _info(r.run)) for r in results.runs if r.control and "selector_overlap_with_budget" in _info(r.run)]
    if draws:
        blocks.append(("h3", "random-tokens draws"))
        blocks.append(("table", ["control", "source", "seed", "method's tokens", "drawn", "overlap", "identity terms (method / drawn)",
                                 "shortfall"],
                       [[r.arm, r.source, str(r.seed), str(i["selector_budget_tokens"]), str(i["selector_drawn_tokens"]),
                         str(i["selector_overlap_with_budget"]),
                         f"{i['selector_identity_tokens_budget']} / {i['selector_identity_tokens_drawn']}", str(i["selector_shortfall"])]
                        for r, i in draws]))
    return blocks


def attainable(results: StudyResults) -> str:
    """The smallest p each family's tests can reach, beside its smallest Holm threshold."""
    parts = [f"Smallest Holm threshold: {name} 0.05/{n} = {0.05 / n:.2g}" for name, n in results.families.items() if n]
    floors = [c.p_floor for c in results.cells if c.test == "mcnemar" and c.control is None and c.in_family]
    if floors:
        parts.append(f"the McNemar cells can reach p {min(floors):.2g} to {max(floors):.2g} (2 x 0.5^discordant items)")
    parts.append("the crossed t tests and the intersection-union tests have no floor")
    return "; ".join(parts) + "."
