"""Paired before/after statistics of result cells, computed from the per-item rows (docs/statistics.md).

Everything here reads the ``items`` table alone (each measure's ``aggregate`` travels in the
metric rows), so archived results are analysed the same whatever plugins are installed.
One cell = one run (or a set of seed runs) x metric x measure x evaluated domain, on one split:

* before and after are aligned on ``item``; a cell whose item sets differ is refused;
* the change and the change in distance to the ideal come from :func:`~.statistics.change`: one item
  resample shared by before and every seed (cluster resampling for ``group-mean`` measures; the
  resample is keyed by measure and domain, so every cell on the same items draws the same one),
  the crossed item x seed variance and its t intervals;
* the p-value is the exact McNemar test where the items carry binary decisions (one run), else
  the crossed t test; both are attainable at any family size (no resampling floor).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


import numpy as np

from debiasbench.statistics.resampling import Figure, combine, group_mean_figure, mean_figure, ratio_figure
from debiasbench.statistics.change import Change, change
from debiasbench.statistics.pairing import shared_weights
from debiasbench.errors import DebiasbenchError

RESAMPLES = 1000
SPLITS = ("dev", "test")
MIN_ITEMS = 10
"""Fewer items per run than this (e.g. the few WikiText-2 windows of a short quick-preset text) get no
paired interval: a bootstrap over a handful of items says nothing; the metric's own figures stand."""


def split_of(metric: str, items: Iterable[str], seed: int, dev_fraction: float) -> list[str]:
    """``dev`` or ``test`` per item: a seeded hash of (seed, metric, item), so the split of an item
    never depends on which other items were evaluated or on the training seed."""
    out = []
    for item in items:
        digest = hashlib.blake2b(f"{seed}\x00{metric}\x00{item}".encode(), digest_size=8).digest()
        out.append("dev" if int.from_bytes(digest, "big") / 2**64 < dev_fraction else "test")
    return out


def split_units(items: Sequence[str], groups: Sequence[str | None], by_group: bool) -> list[str]:
    """What :func:`split_of` hashes per row: the item, or, for a metric that splits by group, its
    group (a row without a group takes the group its item has in another row of the same result),
    so every measure of one item, and every item of one group, land in the same split."""
    if not by_group:
        return list(items)
    known = {i: g for i, g in zip(items, groups) if g}
    return [f"group\x00{known[i]}" if i in known else i for i in items]


@dataclass(frozen=True)
class Side:
    """One stage's item rows of one cell, sorted by item."""

    item: np.ndarray
    value: np.ndarray
    weight: np.ndarray
    group: np.ndarray
    decision: np.ndarray  # object array of bool / None


def side(rows: Sequence[dict]) -> Side:
    """Item rows (dicts with item, value, weight, group, decision) sorted by item id."""
    rows = sorted(rows, key=lambda r: r["item"])
    return Side(np.array([r["item"] for r in rows]), np.array([r["value"] for r in rows], dtype=float),
                np.array([r["weight"] if r["weight"] is not None else np.nan for r in rows], dtype=float),
                np.array([r["group"] if r["group"] is not None else "" for r in rows]),
                np.array([r["decision"] for r in rows], dtype=object))


def figure(s: Side, aggregate: str) -> Figure:
    """The measure as a function of resampling weights over the side's items."""
    if aggregate == "mean":
        return mean_figure(s.value)
    if aggregate == "group-mean":
        return group_mean_figure(s.value, s.group)
    if aggregate in ("ratio", "exp-ratio"):
        ratio = ratio_figure(s.value, s.weight)
        return ratio if aggregate == "ratio" else combine(np.exp, ratio)
    raise ValueError(f"unknown aggregate {aggregate!r}")


def weights_seed(measure: str, domain: str) -> int:
    """The resample seed of every cell over ``measure`` x ``domain``: cells on the same items (arms,
    seeds, rows of a comparison) draw the same item resample."""
    return int.from_bytes(hashlib.blake2b(f"{measure}\x00{domain}".encode(), digest_size=4).digest(), "big")


@dataclass(frozen=True)
class CellStats:
    """The paired change of one cell (test split unless said otherwise), on the same items throughout.

    ``d_delta``: the change in distance to the ideal (negative = closer); ``crossed``/``past``: the
    after value lies beyond the ideal by ``past`` (one-sided ``past_p``); ``p`` tests "no change"
    (``test``: mcnemar or t) and ``p_floor`` is the smallest p that test could give on these items;
    ``mde``: the smallest |change| this cell detects with 80 % power at two-sided 0.05.
    """

    n: int  # items (or groups) per run
    seeds: int
    before: float
    after: float
    delta: float
    delta_ci: tuple[float, float]
    d_delta: float
    d_delta_ci: tuple[float, float]
    p: float
    test: str  # mcnemar | t
    per_seed_delta: tuple[float, ...] = ()
    p_floor: float = 0.0
    crossed: bool = False
    past: float = 0.0
    past_p: float = float("nan")
    mde: float = float("nan")
    stats: Change | None = None


def from_change(c: Change) -> CellStats:
    return CellStats(c.n, c.seeds, c.before, c.after, c.delta.value, tuple(c.delta_ci), c.d, tuple(c.d_ci),
                     c.d_p, c.test, tuple(c.delta.per_seed), c.p_floor, c.crossed, c.past.value if c.crossed else 0.0,  # type: ignore[union-attr]
                     c.past_p, c.d_delta.mde(), c)


def aligned(before: Side, after: Side, what: str) -> tuple[Side, Side]:
    """Refuse a cell whose before and after items differ: a change must be paired."""
    if before.item.shape != after.item.shape or not np.array_equal(before.item, after.item):
        missing = len(set(before.item) ^ set(after.item))
        raise DebiasbenchError(f"{what}: the items before and after differ ({missing} not in both); the change cannot be "
                               "paired (different data checksum or subset?) — rerun both stages on the same items")
    return before, after


def cell_stats(runs: Sequence[tuple[Side, Side]], aggregate: str, ideal: float | None, better: str, seed: int = 0,
               resamples: int = RESAMPLES) -> CellStats | None:
    """Paired statistics over one or several seed runs on the same items; None when a run has fewer
    than ``MIN_ITEMS`` items. ``seed`` keys the shared item resample (see :func:`weights_seed`)."""
    if any(len(b.item) < MIN_ITEMS for b, _ in runs):
        return None
    before_side = runs[0][0]
    for b, a in runs[1:]:
        aligned(before_side, b, "seeds of one cell")
    before = figure(before_side, aggregate)
    afters = [figure(a, aggregate) for _, a in runs]
    weights = shared_weights([before, *afters], resamples, seed)
    decisions = None
    if len(runs) == 1:
        b, a = runs[0]
        stages = b.decision.tolist() + a.decision.tolist()
        if stages and all(d is not None for d in stages):
            decisions = (b.decision.astype(bool), a.decision.astype(bool))
    return from_change(change(before, afters, ideal, better, weights=weights, decisions=decisions))


def stages_on_test(items: Iterable[Mapping[str, Any]], measure: str, domain: str) -> dict[str, list[Mapping[str, Any]]]:
    """One cell's item rows on the test split, by stage."""
    stages: dict[str, list[Mapping[str, Any]]] = {}
    for r in items:
        if r["measure"] == measure and r["domain"] == domain and r["split"] == "test":
            stages.setdefault(r["stage"], []).append(r)
    return stages


def paired_cell(items: Sequence[Mapping[str, Any]] | None, measure: str, domain: str, row: Mapping[str, Any]) -> CellStats | None:
    """Paired statistics of one cell on its test items, or None (no items, no aggregate, a baseline);
    ``items``: the run's per-item rows as dicts, ``row``: the cell's metric row (its aggregate, ideal and
    direction). The run summary, a saved model's card and the experiment trackers all show these."""
    if items is None or not row.get("aggregate") or row.get("better") is None:
        return None
    stages = stages_on_test(items, measure, domain)
    if "before" not in stages or "after" not in stages:
        return None
    pair = aligned(side(stages["before"]), side(stages["after"]), f"{measure} {domain}")
    return cell_stats([pair], row["aggregate"], row["ideal"], row["better"], seed=weights_seed(measure, domain))
