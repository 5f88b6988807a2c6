"""Per-item rows of a metric (``MetricResult.items``): the contract behind paired statistics.

A metric lists, for each measure it can aggregate and each evaluated domain, one row per item:
its stable id and its contribution (``value``; ``weight``, ``group`` and ``decision`` where the
measure's aggregate uses them). The core then recomputes each figure from the items (see
:data:`debiasbench.plugin_system.interfaces.Aggregate`) and pairs before with after on ``item``.

``kept`` (optional) marks items that count: an item with ``kept`` False is left out of the stage's
figure, and a run leaves it out of *every* stage, so stages stay paired on the same items (the
fluency guard of generation metrics, docs/damage.md). It is not written to the results: what is
written are the items that counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:  # pragma: no cover - typing only
    from debiasbench.results.storage import ResultsLocation

ITEM_FIELDS = ("measure", "domain", "item", "value", "weight", "group", "decision")
KEPT = "kept"


def kept_mask(items: pa.Table) -> np.ndarray:
    """Which rows count: all, unless a ``kept`` column says False."""
    if KEPT not in items.column_names:
        return np.ones(items.num_rows, dtype=bool)
    return np.array([k is not False for k in items.column(KEPT).to_pylist()], dtype=bool)


def item_rows(measure: str, domain: str, items: Sequence[Any], value: Any, *, weight: Any = None, group: Any = None,
              decision: Any = None, kept: Any = None) -> pa.Table:
    """The per-item rows of one measure on one domain (append several with :func:`concat_items`);
    ``kept`` False leaves an item out of every stage of the run (see the module)."""
    n = len(items)
    values = np.asarray(value, dtype=np.float64).reshape(-1)
    if values.shape[0] != n:
        raise ValueError(f"item_rows({measure!r}, {domain!r}): {n} items but {values.shape[0]} values")

    def column(data: Any, kind: pa.DataType) -> pa.Array:
        if data is None:
            return pa.nulls(n, kind)
        array = np.asarray(data).reshape(-1)
        if array.shape[0] != n:
            raise ValueError(f"item_rows({measure!r}, {domain!r}): {n} items but {array.shape[0]} entries of a column")
        # strings through Python: Arrow reads a numpy unicode array only up to the first NUL in each entry
        return pa.array([str(x) for x in array] if kind == pa.string() else array, type=kind)

    return pa.table({
        "measure": pa.array([measure] * n, pa.string()), "domain": pa.array([domain] * n, pa.string()),
        "item": pa.array([str(i) for i in items], pa.string()), "value": pa.array(values, pa.float64()),
        "weight": column(weight, pa.float64()), "group": column(group, pa.string()), "decision": column(decision, pa.bool_()),
        KEPT: column(kept, pa.bool_()),
    })


def concat_items(tables: Sequence[pa.Table]) -> pa.Table | None:
    """One table of per-item rows, or None when there are none."""
    tables = [t for t in tables if t is not None and t.num_rows]
    if not tables:
        return None
    if any(KEPT in t.column_names for t in tables):  # tables made before ``kept`` existed: all count
        tables = [t if KEPT in t.column_names else t.append_column(KEPT, pa.nulls(t.num_rows, pa.bool_())) for t in tables]
    return pa.concat_tables(tables)


def load_items(results_dir: ResultsLocation, run_ids: set[str], split: str | None) -> dict[tuple[str, str, str], dict[str, list[dict[str, Any]]]]:
    """(run, measure, domain) -> stage -> item rows, for the given runs (one file each) and split."""
    from debiasbench.results.storage import open_store

    store = open_store(results_dir)
    present = set(store.list("items"))
    keys = [key for key in (f"items/{run}.parquet" for run in sorted(run_ids)) if key in present]
    out: dict[tuple[str, str, str], dict[str, list[dict[str, Any]]]] = {}
    for table in store.map(store.read_table, keys):
        for r in table.to_pylist():
            if split is None or r["split"] == split:
                out.setdefault((r["run_id"], r["measure"], r["domain"]), {}).setdefault(r["stage"], []).append(r)
    return out
