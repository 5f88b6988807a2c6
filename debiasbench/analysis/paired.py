"""Paired before/after statistics of result cells, computed from the per-item rows (SPEC section 9).

Everything here reads the ``items`` table alone (each measure's ``aggregate`` travels in the
metric rows), so archived results are analysed the same whatever plugins are installed.
One cell = one run (or a set of seed runs) x metric x measure x evaluated domain, on one split:

* before and after are aligned on ``item``; a cell whose item sets differ is refused;
* the change and the change in distance to the ideal get paired bootstrap intervals (cluster
  resampling for ``group-mean`` measures), one run: :func:`paired_change`, several seeds:
  :func:`hierarchical_change`;
* the p-value is the exact McNemar test where the items carry binary decisions (one run), else
  the paired bootstrap p of the change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from debiasbench.results.storage import ResultsLocation, open_store
from typing import TYPE_CHECKING, Any

import numpy as np

from debiasbench.analysis.resampling import Figure, combine, group_mean_figure, mean_figure, ratio_figure
from debiasbench.analysis.statistics import hierarchical_change, mcnemar_exact, paired_change
from debiasbench.errors import DebiasbenchError

if TYPE_CHECKING:  # pragma: no cover
    from debiasbench.analysis.compare import Comparison

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


@dataclass(frozen=True)
class CellStats:
    """The paired change of one cell (test split unless said otherwise)."""

    n: int  # items per run
    seeds: int
    before: float
    after: float
    delta: float
    delta_ci: tuple[float, float]
    d_delta: float
    d_delta_ci: tuple[float, float]
    p: float
    test: str  # mcnemar | bootstrap
    per_seed_delta: tuple[float, ...] = ()


def aligned(before: Side, after: Side, what: str) -> tuple[Side, Side]:
    """Refuse a cell whose before and after items differ: a change must be paired."""
    if before.item.shape != after.item.shape or not np.array_equal(before.item, after.item):
        missing = len(set(before.item) ^ set(after.item))
        raise DebiasbenchError(f"{what}: the items before and after differ ({missing} not in both); the change cannot be "
                               "paired (different data checksum or subset?) — rerun both stages on the same items")
    return before, after


def cell_stats(runs: Sequence[tuple[Side, Side]], aggregate: str, ideal: float | None, better: str, seed: int = 0,
               resamples: int = RESAMPLES) -> CellStats | None:
    """Paired statistics over one or several seed runs; None when a run has fewer than ``MIN_ITEMS`` items."""
    if any(len(b.item) < MIN_ITEMS for b, _ in runs):
        return None
    figures = [(figure(b, aggregate), figure(a, aggregate)) for b, a in runs]
    if len(runs) == 1:
        change = paired_change(*figures[0], ideal, better, resamples=resamples, seed=seed)
        before, after = runs[0]
        decisions = before.decision.tolist() + after.decision.tolist()
        if decisions and all(d is not None for d in decisions):
            p, test = mcnemar_exact(before.decision.astype(bool), after.decision.astype(bool)).p, "mcnemar"
        else:
            p, test = change.delta_p, "bootstrap"
        return CellStats(change.n, 1, change.before, change.after, change.delta, tuple(change.delta_ci), change.d_delta,
                         tuple(change.d_delta_ci), p, test, (change.delta,))
    seeded = hierarchical_change(figures, ideal, better, resamples=resamples, seed=seed)
    return CellStats(len(runs[0][0].item), seeded.seeds, seeded.before, seeded.after, seeded.delta, tuple(seeded.delta_ci),
                     seeded.d_delta, tuple(seeded.d_delta_ci), seeded.delta_p, "bootstrap", tuple(seeded.per_seed_delta))


def attach_paired(comparison: Comparison, results_dir: ResultsLocation, split: str | None) -> None:
    """Paired statistics for every cell with a before and an after, from the runs' per-item rows,
    then Holm and BH adjustment over the family of those cells (named in ``comparison.family``)."""
    from debiasbench.analysis.statistics import adjust

    wanted = {(run, c.measure, c.domain) for (k, c), cell in comparison.cells.items() if cell.change is not None for run in cell.run_ids}
    items = load_items(results_dir, {run for run, _, _ in wanted}, split)
    tested = []
    for (key, column), cell in comparison.cells.items():
        if cell.change is None or cell.aggregate is None or cell.better is None:
            continue
        runs = []
        for run in cell.run_ids:
            rows = items.get((run, column.measure, column.domain), {})
            if "before" not in rows or "after" not in rows:
                break
            runs.append(aligned(side(rows["before"]), side(rows["after"]), f"{run} {column.measure} {column.domain}"))
        else:
            cell.paired = cell_stats(runs, cell.aggregate, cell.ideal, cell.better)
            if cell.paired is not None:
                tested.append(cell)
    if tested:
        comparison.family = f"compare {open_store(results_dir)} ({len(tested)} cells, {split or 'all'} items)"
        adjusted = adjust([c.paired.p for c in tested], comparison.family)  # type: ignore[union-attr]
        for cell, holm, bh in zip(tested, adjusted.holm, adjusted.bh):
            cell.p_holm, cell.q_bh = holm, bh


def load_items(results_dir: ResultsLocation, run_ids: set[str], split: str | None) -> dict[tuple[str, str, str], dict[str, list[dict[str, Any]]]]:
    """(run, measure, domain) -> stage -> item rows, for the given runs (one file each) and split."""
    store = open_store(results_dir)
    present = set(store.list("items"))
    keys = [key for key in (f"items/{run}.parquet" for run in sorted(run_ids)) if key in present]
    out: dict[tuple[str, str, str], dict[str, list[dict[str, Any]]]] = {}
    for table in store.map(store.read_table, keys):
        for r in table.to_pylist():
            if split is None or r["split"] == split:
                out.setdefault((r["run_id"], r["measure"], r["domain"]), {}).setdefault(r["stage"], []).append(r)
    return out
