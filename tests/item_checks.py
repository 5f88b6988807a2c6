"""Shared check: a metric's per-item rows reproduce every row whose measure declares an aggregate."""

from __future__ import annotations

from typing import Any

import pytest

from debiasbench.statistics.paired import figure, side


def assert_items_reproduce_rows(metric: Any, result: Any) -> int:
    """Each aggregated row equals its figure recomputed from ``result.items``; returns how many were checked."""
    specs = {m.name: m for m in metric.measures}
    items = result.items.to_pylist()
    checked = 0
    for row in result.rows:
        spec = specs[row.measure]
        if spec.aggregate is None:
            continue
        mine = [r for r in items if r["measure"] == row.measure and r["domain"] == row.domain]
        assert mine, f"no items for {row.measure} / {row.domain}"
        assert figure(side(mine), spec.aggregate).value() == pytest.approx(row.value, rel=1e-9, abs=1e-9)
        checked += 1
    return checked
