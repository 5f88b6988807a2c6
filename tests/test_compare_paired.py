"""compare's paired statistics, from per-item rows written by hand: McNemar against scipy's
binomial test, the paired interval around the change, the test split only, and refusal of a cell
whose items differ between before and after."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest

from debiasbench.reports.compare import compare
from debiasbench.statistics.paired import split_of
from debiasbench.errors import DebiasbenchError
from debiasbench.results.schemas import ITEMS_SCHEMA, METRICS_SCHEMA, RUNS_SCHEMA
from debiasbench.results.tables import to_table
from debiasbench.runtime.atomic import write_table_atomic

N = 200


def _write(results: Path, run: str, before: np.ndarray, after: np.ndarray, *, seed: int = 0, drop_after: int = 0) -> None:
    common = {"run_id": run, "time": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), "model": "m", "method": "ga",
              "forget_set": "f", "source_domain": "gender", "metric": "pairs", "measure": "pairs.score", "domain": "gender",
              "ideal": 50.0, "better": "closer", "headline": True, "aggregate": "mean", "seed": seed, "preset": "full",
              "method_options": "{}", "config_hash": f"h{seed}", "protocol": "{}", "data_checksum": "{}"}
    rows = [{**common, "stage": stage, "value": 100 * float(v.mean()), "n": N} for stage, v in (("before", before), ("after", after))]
    write_table_atomic(to_table(rows, METRICS_SCHEMA), results / "metrics" / f"{run}.parquet")
    write_table_atomic(to_table([{"run_id": run, "seed": seed, "config_hash": f"h{seed}"}], RUNS_SCHEMA), results / "runs" / f"{run}.parquet")
    ids = [f"p{i}" for i in range(N)]
    splits = split_of("pairs", ids, 0, 0.5)
    items = []
    for stage, values in (("before", before), ("after", after)):
        keep = N - drop_after if stage == "after" else N
        items += [{"run_id": run, "stage": stage, "metric": "pairs", "measure": "pairs.score", "domain": "gender", "item": i,
                   "value": 100.0 * v, "decision": bool(v), "split": s} for i, v, s in list(zip(ids, values, splits))[:keep]]
    write_table_atomic(to_table(items, ITEMS_SCHEMA), results / "items" / f"{run}.parquet")


def _decisions(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    before = rng.random(N) < 0.7  # 70 % stereotyped
    after = before.copy()
    flip = rng.random(N) < 0.3
    after[flip & before] = False  # unlearning moves some pairs away from the stereotype
    return before, after


def test_one_run_gets_mcnemar_on_the_test_items_and_a_paired_interval(tmp_path: Path) -> None:
    before, after = _decisions(1)
    _write(tmp_path, "r1", before, after)
    cell = next(iter(compare(tmp_path).cells.values()))
    test = np.array(split_of("pairs", [f"p{i}" for i in range(N)], 0, 0.5)) == "test"
    b, a = before[test], after[test]
    assert cell.paired.n == int(test.sum()) and cell.paired.test == "mcnemar"
    discordant_b, discordant_c = int(np.sum(b & ~a)), int(np.sum(~b & a))
    expected = binomtest(min(discordant_b, discordant_c), discordant_b + discordant_c, 0.5).pvalue
    assert cell.paired.stats.p == pytest.approx(min(1.0, expected))  # the change's exact McNemar
    if not cell.paired.crossed:  # on the starting side the change in distance shares that test
        assert cell.paired.p == pytest.approx(min(1.0, expected))
    assert cell.paired.delta == pytest.approx(100 * (a.mean() - b.mean()))
    low, high = cell.paired.delta_ci
    assert low <= cell.paired.delta <= high and high < 0  # a real drop: the interval excludes 0
    # d is the change in distance to 50 on the test items, pooled (one seed here), crossing or not
    assert cell.paired.d_delta == pytest.approx(abs(100 * a.mean() - 50) - abs(100 * b.mean() - 50))
    assert cell.paired.crossed == ((100 * a.mean() - 50) * (100 * b.mean() - 50) < 0)
    assert cell.paired.after == pytest.approx(100 * a.mean())  # every figure of the cell on the test items
    assert cell.q_bh == pytest.approx(cell.paired.p)  # a family of one


def test_seeds_share_the_items_and_get_the_crossed_interval(tmp_path: Path) -> None:
    before, _ = _decisions(1)
    rng = np.random.default_rng(5)
    for seed in (1, 2, 3):  # one baseline, three trained seeds on the same items
        after = before & (rng.random(N) > 0.3)
        _write(tmp_path, f"r{seed}", before, after, seed=seed)
    cell = next(iter(compare(tmp_path).cells.values()))
    assert cell.paired.seeds == 3 and len(cell.paired.per_seed_delta) == 3 and cell.paired.test == "t"
    assert cell.paired.delta == pytest.approx(np.mean(cell.paired.per_seed_delta))
    assert cell.paired.stats.delta.df_seed == 2 and cell.paired.mde > 0


def test_a_cell_whose_items_differ_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "r1", *_decisions(1), drop_after=5)
    with pytest.raises(DebiasbenchError, match="items before and after differ"):
        compare(tmp_path, split=None)


def test_a_handful_of_items_gets_no_paired_interval() -> None:
    from debiasbench.statistics.paired import MIN_ITEMS, cell_stats, side

    rows = [{"item": f"w{i}", "value": float(i), "weight": 10.0, "group": None, "decision": None} for i in range(MIN_ITEMS - 1)]
    assert cell_stats([(side(rows), side(rows))], "exp-ratio", None, "lower") is None
    more = rows + [{"item": "w99", "value": 3.0, "weight": 10.0, "group": None, "decision": None}]
    assert cell_stats([(side(more), side(more))], "exp-ratio", None, "lower").delta == 0.0


def test_a_metric_that_splits_by_group_keeps_each_group_and_each_item_on_one_side() -> None:
    """StereoSet: dev/test by target term (docs/statistics.md, "Dev and test items"); a row without a group (the margin) follows its item's group."""
    from debiasbench.statistics.paired import split_units

    items = [f"e{i}" for i in range(40)] * 2
    groups = [f"gender/t{i % 8}" for i in range(40)] + [None] * 40  # the second measure's rows carry no group
    splits = split_of("stereoset", split_units(items, groups, True), 0, 0.5)
    by_group: dict[str, set[str]] = {}
    for i, (item, split) in enumerate(zip(items, splits)):
        by_group.setdefault(groups[i % 40], set()).add(split)
        assert split == splits[i % 40]  # the same item lands on the same side in every measure
    assert all(len(sides) == 1 for sides in by_group.values()) and len({s for v in by_group.values() for s in v}) == 2
    assert split_units(items, groups, False) == items  # other metrics split per item, as before
