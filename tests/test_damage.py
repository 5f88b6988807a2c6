"""The damage line (docs/damage.md): a run whose utility moved the worse way past its declared
threshold is named in one line, in the run summary, ``compare`` and the study report."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from debiasbench.reports.damage import damage_line, find_damage, num


@dataclass(frozen=True)
class Spec:
    name: str
    better: str
    damage: float
    damage_relative: bool


SPECS = {"ppl": Spec("ppl", "lower", 0.2, True), "acc": Spec("acc", "higher", 2.0, False)}


def _rows(run: str, measure: str, before: float, after: float, domain: str = "all") -> list[dict]:
    return [{"run_id": run, "measure": measure, "domain": domain, "stage": s, "value": v} for s, v in (("before", before), ("after", after))]


def test_a_threshold_crossed_the_worse_way_is_damage() -> None:
    rows = (_rows("a", "ppl", 24.3, 29.0) + _rows("b", "ppl", 24.3, 29.5) + _rows("c", "ppl", 24.3, 12.0)
            + _rows("d", "acc", 80.0, 78.5) + _rows("e", "acc", 80.0, 77.0) + _rows("f", "acc", 80.0, 90.0)
            + _rows("g", "bias", 60.0, 50.0))
    found = {d.run_id for d in find_damage(rows, SPECS)}
    assert found == {"b", "e"}  # +19.3 % and -1.5 points are under; +21.4 % and -3 points are over; better is never damage


def test_a_blown_up_model_is_named_readably() -> None:
    found = find_damage(_rows("x", "ppl", 24.33, 1.3e52), SPECS)
    line = damage_line(found, "x")
    assert line is not None and line.startswith("damage: ppl 24.33 -> 1.3e+52") and "threshold +20%" in line
    assert damage_line(found, "other") is None
    assert num(float("inf")) == "inf" and num(0.5) == "0.50"


def test_the_perplexity_metric_declares_its_threshold() -> None:
    pytest.importorskip("debiasbench_metrics")
    from debiasbench.reports.damage import damage_specs
    from debiasbench.plugin_system.loader import get_registry

    spec = damage_specs(get_registry())["perplexity.wikitext2"]
    assert spec.damage == 0.2 and spec.damage_relative and spec.utility
