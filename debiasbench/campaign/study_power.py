"""What a study can detect, before it runs (docs/statistics.md, "Verdicts, equivalence and power").

For every family measure x evaluated domain: the expected number of test items (the metric's items
in that domain, cut to ``eval_limit`` or else to the item limit the metric's preset declares, as a run cuts them, times the test share ``1 - dev_fraction``), and the minimum
detectable effect at 80 % power (two-sided 0.05) of a change and of a contrast between two arms,
from the measure's planning value ``MeasureSpec.item_sd``. A null from a cell says nothing about
effects below its MDE, so a user sees before spending hours whether the study can answer.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from debiasbench.plugin_system.presets import values_for
from debiasbench.statistics.verdicts import planned_mde


@dataclass(frozen=True)
class PlannedCell:
    measure: str
    domain: str
    test_items: int | None  # None: the metric cannot count its items without a model
    seeds: int
    mde_change: float | None
    mde_contrast: float | None
    why: str = ""  # why there is no MDE
    # a mean over groups (StereoSet: target terms) whose test items fall in fewer groups than items: the planning
    # formula counts each item as its own group, so the MDE is a lower bound (docs/statistics.md, "The pooled transfer claim")
    lower_bound: bool = False


def measure_specs(registry: Any) -> dict[str, tuple[Any, Any]]:
    """Every registered measure: name -> (the metric that declares it, its MeasureSpec)."""
    out: dict[str, tuple[Any, Any]] = {}
    for name in registry.names("metric"):
        try:
            metric = registry.metric(name)
        except Exception:  # noqa: BLE001 - a broken plugin declares nothing here
            continue
        for spec in getattr(metric, "measures", ()):
            out.setdefault(spec.name, (metric, spec))
    return out


def measure_spec(registry: Any, measure: str) -> tuple[Any, Any]:
    """The registered metric that declares ``measure``, and its MeasureSpec (None, None: no metric does)."""
    return measure_specs(registry).get(measure, (None, None))


def plan_power(study: Any, registry: Any, cache_dir: Any = None) -> list[PlannedCell]:
    """One planned cell per family measure x evaluated domain (the family's domains, else the grid's).
    ``cache_dir`` overrides the run's cache (the preflight counts items in a temporary one: it writes nothing)."""
    from debiasbench.plugin_system.interfaces import EvalContext
    from debiasbench.data.locator import DataLocator

    config = study.sweep.points[0].config
    seeds = len({p.config.seed for p in study.sweep.points})
    ctx = EvalContext(data=DataLocator(config.data_dir, cache_dir or config.cache_dir), registry=registry)
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
            limit = config.eval_limit if config.eval_limit is not None else values_for(metric, config.preset).limit
            chosen = min(available, limit) if limit else available  # the items a run scores: --eval-limit, else the preset's
            test = int(round(chosen * (1.0 - config.dev_fraction)))
            if spec is None or spec.item_sd is None or test < 2:
                why = "no item_sd" if test >= 2 else f"{test} test items"
                out.append(PlannedCell(measure, domain, test, seeds, None, None, why))
                continue
            out.append(PlannedCell(measure, domain, test, seeds, planned_mde(spec.item_sd, test),
                                   planned_mde(spec.item_sd, test, contrast=True), lower_bound=spec.aggregate == "group-mean"))
    return out


@dataclass(frozen=True)
class PlannedPool:
    """The pooled cross-domain contrast's planned MDE (docs/statistics.md, "The pooled transfer claim")."""

    cells: int  # cross-domain cells pooled (sources x other domains x measures)
    items: int  # their test items, summed (the weights)
    mde: float  # cells on the same items (two sources, one domain) counted as perfectly correlated
    lower_bound: bool = False  # a pooled cell is a group-mean cell, whose planned MDE understates

def plan_pooled(study: Any, cells: list[PlannedCell]) -> PlannedPool | None:
    """The item-weighted pool of every cross-domain contrast cell (source != evaluated domain)."""
    import math

    from debiasbench.statistics.crossed import t_quantile

    sources = sorted({p.config.domain for p in study.sweep.points if p.config.method and p.config.domain})
    z = t_quantile(0.975, math.inf) + t_quantile(0.8, math.inf)
    groups: dict[tuple[str, str], list[tuple[int, float]]] = {}
    lower = False
    for source in sources:
        for c in cells:
            if c.domain == source or c.mde_contrast is None or not c.test_items:
                continue
            groups.setdefault((c.measure, c.domain), []).append((c.test_items, c.mde_contrast / z))
            lower = lower or c.lower_bound
    pooled = [x for g in groups.values() for x in g]
    if not pooled:
        return None
    total = sum(n for n, _ in pooled)
    se = math.sqrt(sum(sum(n / total * s for n, s in g) ** 2 for g in groups.values()))
    return PlannedPool(len(pooled), total, z * se, lower)


def missed_targets(study: Any, cells: list[PlannedCell], pool: PlannedPool | None) -> list[str]:
    """The ``[study.power]`` targets the planned MDEs miss, one phrase each (empty: all met)."""
    power = getattr(study, "power", None)
    if power is None:
        return []
    out = []
    if power.pooled is not None:
        if pool is None:
            out.append("the pooled cross-domain contrast has no cell to pool (the grid needs sources other than the evaluated domains)")
        elif pool.mde > power.pooled:
            out.append(f"the pooled cross-domain contrast's MDE {pool.mde:.2f} exceeds {power.pooled:g}")
    if power.cell is not None:
        for c in cells:
            if (c.test_items or 0) < power.cell_min_items:
                continue
            if c.mde_contrast is None or c.mde_contrast > power.cell:
                got = f"{c.mde_contrast:.2f}" if c.mde_contrast is not None else f"none ({c.why})"
                out.append(f"{c.measure} on {c.domain} ({c.test_items} test items): MDE vs control {got} exceeds {power.cell:g}")
    return out
