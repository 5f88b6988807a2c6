"""The core's figures: every row of a measure that declares an ``aggregate`` is computed here from
the metric's per-item rows (``MetricResult.items``), so no metric bootstraps on its own.

* value: the declared aggregate (:data:`~debiasbench.plugin_system.interfaces.Aggregate`) over
  the row's items, as :mod:`debiasbench.statistics.resampling` figures;
* ``n``: the items (``mean``, ``group-mean``), or the summed weights (``ratio``, ``exp-ratio``:
  the denominator, e.g. scored tokens);
* interval: a 95 % percentile bootstrap, 1,000 resamples, seeded by the run's seed, the measure and
  the domain (so an interval does not depend on what else was evaluated); items are resampled,
  or for ``group-mean`` the groups, then the items within each drawn group (docs/statistics.md).

A metric written before this contract may still return rows for such measures: each is
recomputed from the items, refused when the two values disagree (beyond 1e-9 relative), and
replaced by the core's row, interval included. Rows of measures without an aggregate pass as
the metric returned them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from debiasbench.statistics.resampling import Figure, cluster_weights, combine, group_mean_figure, item_weights, mean_figure, ratio_figure
from debiasbench.errors import DebiasbenchError
from debiasbench.results.items import kept_mask
from debiasbench.plugin_system.interfaces import Metric, MetricResult, MetricRow
from debiasbench.plugin_system.item_subsets import generator

RESAMPLES = 1000
LEVEL = 95.0
TOLERANCE = 1e-9
"""Largest relative difference allowed between a metric's own value and the core's."""
CELLS_PER_CHUNK = 4_000_000
"""Resample weights are drawn in chunks of at most this many cells, so a large item set (BBQ's
58k examples) never needs a 1,000 x n matrix at once."""


def figure_of(values: np.ndarray, weights: np.ndarray, groups: np.ndarray, aggregate: str) -> Figure:
    """The measure over its items as a function of resampling weights."""
    if aggregate == "mean":
        return mean_figure(values)
    if aggregate == "group-mean":
        return group_mean_figure(values, groups)
    if aggregate in ("ratio", "exp-ratio"):
        ratio = ratio_figure(values, weights)
        return ratio if aggregate == "ratio" else combine(np.exp, ratio)
    raise ValueError(f"unknown aggregate {aggregate!r}")


def _chunks(figure: Figure, resamples: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    step = max(1, CELLS_PER_CHUNK // figure.n)
    for start in range(0, resamples, step):
        rows = min(step, resamples - start)
        yield cluster_weights(figure.groups, rows, rng) if figure.groups is not None else item_weights(figure.n, rows, rng)


def interval(figure: Figure, resamples: int, rng: np.random.Generator) -> tuple[float | None, float | None]:
    """Central 95 % percentile interval of the figure over resamples (resamples that leave it undefined are dropped)."""
    if resamples <= 0 or figure.n < 2:
        return None, None
    draws = np.concatenate([figure.resampled(w) for w in _chunks(figure, resamples, rng)])
    draws = draws[np.isfinite(draws)]
    if not draws.size:
        return None, None
    tail = (100.0 - LEVEL) / 2
    low, high = np.percentile(draws, [tail, 100.0 - tail])
    return float(low), float(high)


def _cells(items: Any, aggregates: dict[str, str]) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """The item columns of each (measure, domain) whose measure declares an aggregate, in the items'
    order; items marked ``kept`` False do not count (:mod:`debiasbench.results.items`)."""
    if items is None or items.num_rows == 0:
        return {}
    keep = kept_mask(items)
    if not keep.all():
        items = items.filter(pa.array(keep))
    measure, domain = (np.asarray(items.column(c).to_pylist(), dtype=object) for c in ("measure", "domain"))
    value = items.column("value").to_numpy(zero_copy_only=False).astype(np.float64)
    weight = np.asarray([np.nan if w is None else w for w in items.column("weight").to_pylist()], dtype=np.float64)
    group = np.asarray(["" if g is None else g for g in items.column("group").to_pylist()], dtype=object)
    cells: dict[tuple[str, str], list[int]] = {}
    for k, (m, d) in enumerate(zip(measure, domain)):
        if m in aggregates:
            cells.setdefault((m, d), []).append(k)
    return {key: {"value": value[ix], "weight": weight[ix], "group": group[ix].astype(str)}
            for key, ix in ((key, np.asarray(ix)) for key, ix in cells.items())}


def core_row(metric: str, measure: str, domain: str, aggregate: str, cell: dict[str, np.ndarray], seed: int,
             resamples: int) -> MetricRow:
    """One measure's row on one domain from its items."""
    try:
        figure = figure_of(cell["value"], cell["weight"], cell["group"], aggregate)
    except ValueError as exc:
        raise DebiasbenchError(f"metric {metric!r}, measure {measure!r} ({domain}): its per-item rows do not give "
                               f"a {aggregate} ({exc})") from None
    n = len(cell["value"]) if aggregate in ("mean", "group-mean") else int(round(float(np.sum(cell["weight"]))))
    low, high = interval(figure, resamples, generator(seed, measure, domain))
    return MetricRow(domain=domain, measure=measure, value=figure.value(), n=n, ci_low=low, ci_high=high)


def _agrees(mine: float, theirs: float) -> bool:
    if not (np.isfinite(mine) and np.isfinite(theirs)):
        return bool(np.isnan(mine) and np.isnan(theirs)) or mine == theirs
    return abs(mine - theirs) <= TOLERANCE * max(1.0, abs(mine), abs(theirs))


def with_core_rows(metric: Metric, result: MetricResult, seed: int, intervals: bool = True) -> MetricResult:
    """``result`` with every row of an aggregate measure computed from its items (see the module).

    ``intervals=False`` (the trajectory probe) computes values and ``n`` only.
    """
    aggregates = {m.name: m.aggregate for m in metric.measures if m.aggregate}
    cells = _cells(result.items, aggregates)
    resamples = RESAMPLES if intervals else 0
    computed = {key: core_row(metric.name, key[0], key[1], aggregates[key[0]], cell, seed, resamples)
                for key, cell in cells.items()}
    rows: list[MetricRow] = []
    for row in result.rows:
        mine = computed.pop((row.measure, row.domain), None)
        if mine is None:
            rows.append(row)
            continue
        if not _agrees(mine.value, row.value):
            raise DebiasbenchError(
                f"metric {metric.name!r}, measure {row.measure!r} ({row.domain}): its row says {row.value!r} but its "
                f"per-item rows give {mine.value!r} by the declared aggregate {aggregates[row.measure]!r}; fix the items "
                "or the aggregate (or return no row for this measure: the core computes it)")
        rows.append(mine)
    rows += computed.values()
    protocol = result.protocol
    if intervals and cells:
        protocol = {**protocol, "interval": f"{LEVEL:g}% percentile bootstrap over items, {RESAMPLES} resamples "
                                            "(group-mean: groups, then items within them), by the core"}
    return dataclasses.replace(result, rows=rows, protocol=protocol)
