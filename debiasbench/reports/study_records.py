"""A study's cells, contrasts and claims as flat rows: the report's ``cells.csv``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from debiasbench.reports.study_results import StudyCell, StudyResults

__all__ = ["records", "write_cells"]


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
