"""The damage line (docs/damage.md): one line saying a run damaged the model.

Gradient ascent damages a model, and damage pulls likelihood bias scores toward chance, which reads
as debiasing. So wherever a run's bias changes are shown (the run summary, ``compare``, the study
report), a run whose utility measures moved the worse way beyond their declared threshold
(``MeasureSpec.damage``: a fraction of the before value for perplexity-like measures, points for
accuracies) is named in one line, with the measures that crossed it. A metric's own fluency check
(generations no longer fluent) reports through the same line by declaring such a measure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from debiasbench.domains import OVERALL


@dataclass(frozen=True)
class Damage:
    """One utility measure of one run that moved the worse way beyond its threshold."""

    run_id: str
    measure: str
    domain: str
    before: float
    after: float
    threshold: float
    relative: bool

    def text(self) -> str:
        if self.relative:
            change = self.after / self.before - 1.0 if self.before else math.inf
            return f"{self.measure} {num(self.before)} -> {num(self.after)} ({change:+.0%}, threshold {self.threshold:+.0%})"
        return f"{self.measure} {num(self.before)} -> {num(self.after)} ({self.after - self.before:+.1f}, threshold {self.threshold:.1f} points)"


def num(x: float) -> str:
    """A figure readable at any size: 24.33, 1.3e+52."""
    if x is None or not math.isfinite(x):
        return str(x)
    return f"{x:.3g}" if abs(x) >= 1e5 or (x != 0 and abs(x) < 1e-3) else f"{x:.2f}"


def damage_specs(registry: Any) -> dict[str, Any]:
    """Measure name -> MeasureSpec, for every registered measure that declares a damage threshold."""
    from debiasbench.campaign.study_power import measure_specs

    return {name: spec for name, (_, spec) in measure_specs(registry).items() if getattr(spec, "damage", None) is not None}


def find_damage(rows: Iterable[dict[str, Any]], specs: dict[str, Any]) -> list[Damage]:
    """Every (run, measure, domain) whose after value is worse than before by more than its threshold."""
    stages: dict[tuple[str, str, str], dict[str, float]] = {}
    for r in rows:  # the overall figure only: a per-paradigm or per-group row is too noisy to call damage
        if r["measure"] in specs and r.get("domain") == OVERALL and r.get("stage") in ("before", "after") and r.get("value") is not None:
            stages.setdefault((r["run_id"], r["measure"], r["domain"]), {})[r["stage"]] = float(r["value"])
    out = []
    for (run, measure, domain), s in stages.items():
        if "before" not in s or "after" not in s:
            continue
        spec = specs[measure]
        worse = -1.0 if spec.better == "higher" else 1.0  # "lower is better": a rise is worse
        b, a = s["before"], s["after"]
        moved = (a / b - 1.0) * worse if spec.damage_relative and b else (a - b) * worse
        if not math.isfinite(moved) or moved > spec.damage:
            out.append(Damage(run, measure, domain, b, a, spec.damage, spec.damage_relative))
    return out


def damage_line(found: Sequence[Damage], run_id: str | None = None) -> str | None:
    """The one line: None when the run (or every run) is undamaged."""
    mine = [d for d in found if run_id is None or d.run_id == run_id]
    if not mine:
        return None
    return ("damage: " + "; ".join(d.text() for d in mine)
            + ": the model lost ability, so its bias changes may be damage, not debiasing (docs/damage.md)")
