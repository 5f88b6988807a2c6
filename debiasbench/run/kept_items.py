"""Stages of a run stay paired on the same items when a metric keeps only some of them.

A metric may mark per-item rows ``kept`` False (the fluency guard: a generation that is not fluent,
docs/damage.md). Within one stage the core already leaves such items out of the figures; across a
run's stages (before, after, ...) an item counts only where every stage kept it, so each change is
paired on the same items and a collapsed model cannot improve a score by writing garbage that the
guard then drops. Rows the metric derives from items without an aggregate (gaps between groups)
are recomputed through :meth:`~debiasbench.plugin_system.interfaces.Metric.rows_from_items`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from debiasbench.run.evaluation import Evaluated
from debiasbench.run.metric_rows import with_core_rows
from debiasbench.results.items import KEPT

Key = tuple[str, str, str]  # measure, domain, item


def _keys(items: pa.Table) -> list[Key]:
    return list(zip(*(items.column(c).to_pylist() for c in ("measure", "domain", "item"))))


def _guarded(items: pa.Table | None) -> bool:
    return items is not None and KEPT in items.column_names and items.column(KEPT).null_count < items.num_rows


def joint_keep(tables: Sequence[pa.Table]) -> tuple[set[tuple[str, str]], set[Key]]:
    """The guarded cells (measure, domain: some row carries ``kept``) and, in them, the items every stage kept."""
    guarded: set[tuple[str, str]] = set()
    kept_by_stage = []
    for items in tables:
        flags = items.column(KEPT).to_pylist()
        keys = _keys(items)
        guarded |= {(m, d) for (m, d, _), k in zip(keys, flags) if k is not None}
        kept_by_stage.append({key for key, k in zip(keys, flags) if k is not False})
    common = set.intersection(*kept_by_stage) if kept_by_stage else set()
    return guarded, common


def _restricted(items: pa.Table, guarded: set[tuple[str, str]], common: set[Key]) -> pa.Table:
    keys = _keys(items)
    keep = np.array([(m, d) not in guarded or (m, d, i) in common for m, d, i in keys], dtype=bool)
    out = items.filter(pa.array(keep))
    return out.set_column(out.column_names.index(KEPT), KEPT, pa.nulls(out.num_rows, pa.bool_()))


def _recomputed(item: Evaluated, items: pa.Table, seed: int, intervals: bool) -> Evaluated:
    aggregates = {m.name for m in item.metric.measures if m.aggregate}
    own = [r for r in item.result.rows if r.measure not in aggregates]
    derived = item.metric.rows_from_items(items, item.options)
    result = dataclasses.replace(item.result, rows=own if derived is None else derived, items=items)
    return dataclasses.replace(item, result=with_core_rows(item.metric, result, seed, intervals))


def jointly_kept(stages: Sequence[list[Evaluated]], seed: int, intervals: bool = True) -> list[list[Evaluated]]:
    """Each stage's results with every item that some stage did not keep left out of all of them; the
    last stage's result notes how many. ``seed`` is the evaluation seed (the intervals' seed)."""
    stages = [list(s) for s in stages]
    for index, item in enumerate(stages[0] if stages else []):
        tables = [stage[index].result.items for stage in stages]
        if not any(_guarded(t) for t in tables) or any(t is None for t in tables):
            continue
        tables = [t if KEPT in t.column_names else t.append_column(KEPT, pa.nulls(t.num_rows, pa.bool_())) for t in tables]
        guarded, common = joint_keep(tables)
        for stage, table in zip(stages, tables):
            stage[index] = _recomputed(stage[index], _restricted(table, guarded, common), seed, intervals)
        total = sum(1 for key in _keys(tables[0]) if key[:2] in guarded)
        counted = sum(1 for key in common if key[:2] in guarded)
        last = stages[-1][index]
        note = (f"{total - counted} of {total} item rows of its guarded measures left out of every stage "
                f"(not kept in some stage: docs/damage.md)")
        if counted == 0:
            note += "; no item counts in every stage, so its guarded figures are undefined for this run"
        stages[-1][index] = dataclasses.replace(last, result=dataclasses.replace(last.result, notes=[*last.result.notes, note]))
    return stages
