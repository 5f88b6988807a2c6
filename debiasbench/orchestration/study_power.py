"""What a study can detect, before it runs (docs/statistics.md, "Verdicts, equivalence and power").

For every family measure x evaluated domain: the expected number of test items (the metric's items
in that domain, cut to ``eval_limit``, times the test share ``1 - dev_fraction``), and the minimum
detectable effect at 80 % power (two-sided 0.05) of a change and of a contrast between two arms,
from the measure's planning value ``MeasureSpec.item_sd``. A null from a cell says nothing about
effects below its MDE, so a user sees before spending hours whether the study can answer.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from debiasbench.analysis.statistics import planned_mde


@dataclass(frozen=True)
class PlannedCell:
    measure: str
    domain: str
    test_items: int | None  # None: the metric cannot count its items without a model
    seeds: int
    mde_change: float | None
    mde_contrast: float | None
    why: str = ""  # why there is no MDE


def measure_spec(registry: Any, measure: str) -> tuple[Any, Any]:
    """The registered metric that declares ``measure``, and its MeasureSpec (None, None: no metric does)."""
    for name in registry.names("metric"):
        try:
            metric = registry.get("metric", name)
        except Exception:  # noqa: BLE001 - a broken plugin declares nothing here
            continue
        for spec in getattr(metric, "measures", ()):
            if spec.name == measure:
                return metric, spec
    return None, None


def plan_power(study: Any, registry: Any) -> list[PlannedCell]:
    """One planned cell per family measure x evaluated domain (the family's domains, else the grid's)."""
    from debiasbench.plugin_system.interfaces import EvalContext
    from debiasbench.support.data import DataLocator

    config = study.sweep.points[0].config
    seeds = len({p.config.seed for p in study.sweep.points})
    ctx = EvalContext(data=DataLocator(config.data_dir, config.cache_dir), registry=registry)
    domains = list(study.family.domains or config.eval_domains or [])
    out = []
    for measure in study.family.measures:
        metric, spec = measure_spec(registry, measure)
        item_domains = metric.item_domains(ctx, measure) if metric is not None else None
        counts = Counter(item_domains or [])
        for domain in domains or sorted(counts):
            if item_domains is None:
                out.append(PlannedCell(measure, domain, None, seeds, None, None, "the metric cannot count its items"))
                continue
            available = counts.get(domain, 0)
            chosen = min(available, config.eval_limit) if config.eval_limit else available
            test = int(round(chosen * (1.0 - config.dev_fraction)))
            if spec is None or spec.item_sd is None or test < 2:
                why = "no item_sd" if test >= 2 else f"{test} test items"
                out.append(PlannedCell(measure, domain, test, seeds, None, None, why))
                continue
            out.append(PlannedCell(measure, domain, test, seeds, planned_mde(spec.item_sd, test),
                                   planned_mde(spec.item_sd, test, contrast=True)))
    return out
