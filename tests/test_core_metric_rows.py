"""The core owns subsetting and every aggregate measure's figure: the seeded per-domain subset is the
one metrics drew before (same items for the same seed and limit), and rows are computed from a
metric's per-item rows (value, n, interval), with a metric's own row for such a measure checked."""

from __future__ import annotations

import zlib
from typing import Any, ClassVar

import numpy as np
import pytest

from debiasbench.api import OVERALL, EvalContext, MeasureSpec, Metric, MetricResult, MetricRow, concat_items, item_rows
from debiasbench.errors import DebiasbenchError
from debiasbench.run import metric_rows
from debiasbench.run.metric_rows import with_core_rows
from debiasbench.plugin_system.registry import Registry


def _reference_subset(domain_of: np.ndarray, domains: list[str], limit: int | None, seed: int, *key: str) -> np.ndarray:
    """The subset as the first-party metrics drew it before the core owned it (debiasbench_metrics.subsets)."""
    parts = []
    for d in domains:
        idx = np.flatnonzero(domain_of == d)
        if limit is not None and len(idx) > limit:
            rng = np.random.default_rng([seed % (2**32), zlib.crc32("/".join(("subset", *key, d)).encode())])
            idx = np.sort(rng.choice(idx, size=limit, replace=False))
        parts.append(idx)
    return np.concatenate(parts or [np.zeros(0, dtype=np.int64)]).astype(np.int64)


@pytest.mark.parametrize("limit,seed", [(None, 0), (5, 0), (5, 3), (40, 0), (1, 2**33 + 1)])
def test_subset_chooses_the_items_metrics_chose_before(limit: int | None, seed: int) -> None:
    rng = np.random.default_rng(0)
    domain_of = rng.choice(["gender", "race", "religion", "age"], size=300)
    ctx = EvalContext(data=None, registry=Registry(), domains=("race", "gender", "profession"), limit=limit, seed=seed)  # type: ignore[arg-type]
    domains, missing = ctx.evaluated_domains(["gender", "race", "religion", "age"])
    assert domains == ["gender", "race"] and missing == ["profession"]  # the data's order; what it lacks
    for key in (("crows-pairs",), ("stereoset", "intrasentence")):  # one metric; a metric with tasks
        chosen = ctx.subset(domain_of, domains, *key)
        assert np.array_equal(chosen, _reference_subset(domain_of, domains, limit, seed, *key))
        assert np.array_equal(chosen, ctx.subset(list(domain_of), domains, *key))  # a list works too; seeded
    assert ctx.subset_protocol()["limit"] == limit
    if limit is not None:
        assert all(np.sum(domain_of[ctx.subset(domain_of, domains, "m")] == d) == limit for d in domains)


def test_every_domain_when_none_is_asked() -> None:
    ctx = EvalContext(data=None, registry=Registry())  # type: ignore[arg-type]
    assert ctx.evaluated_domains(["b", "a"]) == (["b", "a"], [])
    assert ctx.subset(np.array([], dtype=str), []).size == 0


class Toy(Metric):
    """A metric with one measure of each aggregate and one without."""

    name = "toy"
    measures: ClassVar[tuple[MeasureSpec, ...]] = (
        MeasureSpec("toy.mean", 50.0, "closer", aggregate="mean"),
        MeasureSpec("toy.groups", 50.0, "closer", aggregate="group-mean"),
        MeasureSpec("toy.ratio", 0.0, "closer", aggregate="ratio"),
        MeasureSpec("toy.ppl", None, "lower", aggregate="exp-ratio"),
        MeasureSpec("toy.t", 0.0, "closer"),
    )

    def evaluate(self, model: Any, ctx: EvalContext, options: Any) -> MetricResult:
        raise NotImplementedError


def _items(n: int = 40) -> Any:
    rng = np.random.default_rng(1)
    ids = [f"i{k}" for k in range(n)]
    hits = rng.random(n) < 0.4
    groups = np.array([f"g{k % 7}" for k in range(n)])
    value, weight = rng.normal(size=n), rng.integers(1, 5, n).astype(float)
    return concat_items([
        item_rows("toy.mean", "gender", ids, 100.0 * hits, decision=hits),
        item_rows("toy.mean", OVERALL, ids[:10], 100.0 * hits[:10]),
        item_rows("toy.groups", "gender", ids, 100.0 * hits, group=groups),
        item_rows("toy.ratio", "gender", ids, value, weight=weight),
        item_rows("toy.ppl", OVERALL, ids, 3.0 * weight, weight=weight),
        item_rows("toy.unknown", "gender", ids, value),  # a measure the metric does not declare: ignored
    ]), hits, groups, value, weight


def test_rows_are_computed_from_the_items() -> None:
    items, hits, groups, value, weight = _items()
    t_row = MetricRow("gender", "toy.t", 1.5, 40)
    result = with_core_rows(Toy(), MetricResult([t_row], {"seed": 0}, items=items), seed=0)
    rows = {(r.measure, r.domain): r for r in result.rows}
    assert set(rows) == {("toy.t", "gender"), ("toy.mean", "gender"), ("toy.mean", OVERALL), ("toy.groups", "gender"),
                         ("toy.ratio", "gender"), ("toy.ppl", OVERALL)}
    assert rows[("toy.t", "gender")] is t_row  # no aggregate: the metric's row, untouched
    assert rows[("toy.mean", "gender")].value == pytest.approx(100 * hits.mean(), rel=1e-12) and rows[("toy.mean", "gender")].n == 40
    assert rows[("toy.mean", OVERALL)].n == 10
    per_group = [hits[groups == g].mean() for g in sorted(set(groups))]
    assert rows[("toy.groups", "gender")].value == pytest.approx(100 * np.mean(per_group), rel=1e-12)
    assert rows[("toy.ratio", "gender")].value == pytest.approx(value.sum() / weight.sum(), rel=1e-12)
    assert rows[("toy.ratio", "gender")].n == int(weight.sum())  # ratio: n is the denominator (e.g. scored tokens)
    assert rows[("toy.ppl", OVERALL)].value == pytest.approx(np.exp(3.0), rel=1e-12)
    for key in (("toy.mean", "gender"), ("toy.groups", "gender"), ("toy.ratio", "gender")):
        row = rows[key]
        assert row.ci_low < row.value < row.ci_high
    assert "by the core" in result.protocol["interval"]
    again = with_core_rows(Toy(), MetricResult([t_row], {}, items=items), seed=0).rows
    other = with_core_rows(Toy(), MetricResult([t_row], {}, items=items), seed=1).rows
    assert [(r.ci_low, r.ci_high) for r in again] == [(r.ci_low, r.ci_high) for r in result.rows]
    assert [(r.ci_low, r.ci_high) for r in other] != [(r.ci_low, r.ci_high) for r in result.rows]


def test_interval_matches_a_direct_percentile_bootstrap() -> None:
    """The core's interval is the percentile bootstrap of the mean over 1,000 item resamples (chunked or not)."""
    items, hits, *_ = _items()
    mine = {(r.measure, r.domain): r for r in with_core_rows(Toy(), MetricResult([], {}, items=items), seed=4).rows}
    rng = metric_rows.generator(4, "toy.mean", "gender")
    from debiasbench.statistics.resampling import item_weights

    draws = item_weights(40, 1000, rng) @ (100.0 * hits) / 40
    assert (mine[("toy.mean", "gender")].ci_low, mine[("toy.mean", "gender")].ci_high) == tuple(np.percentile(draws, [2.5, 97.5]))


def test_chunked_resampling_gives_a_valid_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    items, *_ = _items()
    monkeypatch.setattr(metric_rows, "CELLS_PER_CHUNK", 100)  # 2 resamples a chunk
    rows = {(r.measure, r.domain): r for r in with_core_rows(Toy(), MetricResult([], {}, items=items), seed=0).rows}
    assert rows[("toy.groups", "gender")].ci_low < rows[("toy.groups", "gender")].value < rows[("toy.groups", "gender")].ci_high


def test_no_intervals_for_the_probe() -> None:
    items, *_ = _items()
    result = with_core_rows(Toy(), MetricResult([], {"interval": None}, items=items), seed=0, intervals=False)
    assert result.rows and all(r.ci_low is None and r.ci_high is None for r in result.rows)
    assert result.protocol == {"interval": None}


def test_an_old_metrics_own_row_is_checked_and_gets_the_cores_interval() -> None:
    items, hits, *_ = _items()
    own = MetricRow("gender", "toy.mean", float(100 * hits.mean()) * (1 + 1e-12), 40, ci_low=-1.0, ci_high=-1.0)
    (row,) = [r for r in with_core_rows(Toy(), MetricResult([own], {}, items=items), seed=0).rows
              if (r.measure, r.domain) == ("toy.mean", "gender")]
    assert row.ci_low != -1.0 and row.ci_low < row.value < row.ci_high
    wrong = MetricRow("gender", "toy.mean", 12.5, 40)
    with pytest.raises(DebiasbenchError, match=r"metric 'toy', measure 'toy.mean' \(gender\): its row says 12.5"):
        with_core_rows(Toy(), MetricResult([wrong], {}, items=items), seed=0)


def test_rows_without_items_pass_unchanged() -> None:
    """A metric that declares an aggregate but writes no items keeps its rows (nothing to recompute)."""
    own = MetricRow("gender", "toy.mean", 40.0, 10, 30.0, 50.0)
    assert with_core_rows(Toy(), MetricResult([own], {}), seed=0).rows == [own]


def test_items_that_do_not_give_the_aggregate_are_one_clear_error() -> None:
    items = item_rows("toy.ratio", "gender", ["a", "b"], [1.0, 2.0], weight=[0.0, 0.0])
    with pytest.raises(DebiasbenchError, match="metric 'toy', measure 'toy.ratio' \\(gender\\): its per-item rows do not give a ratio"):
        with_core_rows(Toy(), MetricResult([], {}, items=items), seed=0)


def test_first_party_aggregate_measures_declare_range_and_item_sd() -> None:
    """The planning values behind minimum detectable effects and equivalence margins exist for every
    first-party measure with an aggregate; a third-party MeasureSpec leaves both at None."""
    pytest.importorskip("debiasbench_metrics")
    from debiasbench_metrics.plugin import register_metrics

    metrics: list[Any] = []
    register_metrics(metrics.append)
    from debiasbench.api import MetricFamily

    # a metric family (lm-eval:TASK) has no measures of its own: each task's come from lm-eval, without planning values
    specs = [m for metric in metrics if not isinstance(metric, MetricFamily) for m in metric.measures if m.aggregate]
    assert len(specs) >= 20
    # no unlearning run measured yet: no planning SD (the dry run says so); the unfluent shares were measured only on a collapsed run
    unmeasured = ("winogender.", "seat.", "blimp.", "lambada.", "honest.unfluent", "bold.unfluent")
    for spec in specs:
        assert (spec.item_sd is not None and spec.item_sd > 0) or spec.name.startswith(unmeasured), spec.name
        assert spec.range is None or spec.range[0] < spec.range[1], spec.name
        if spec.unit == "%":
            assert spec.range == (0.0, 100.0), spec.name
    margins = [m for m in specs if m.name.endswith(".margin") and not m.utility]  # the bias instruments' paired margins
    assert sorted(m.name for m in margins) == ["crows-pairs.margin", "redditbias.margin", "stereoset-inter.margin", "stereoset-intra.margin"]
    assert all(m.aggregate == "mean" and m.ideal == 0.0 and m.better == "closer" and m.unit == "nats" and not m.headline for m in margins)
    assert MeasureSpec("x", 0.0, "closer").range is None and MeasureSpec("x", 0.0, "closer").item_sd is None
