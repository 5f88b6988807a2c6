"""The tables printed at the end of ``run``: headline domains, best trajectory step, 80 columns."""

from __future__ import annotations

from rich.console import Console

from debiasbench.reports.summary import summary_table, trajectory_table


def render(table) -> str:  # type: ignore[no-untyped-def]
    console = Console(width=80, record=True, color_system=None)
    console.print(table)
    return console.export_text()


def row(measure: str, domain: str, stage: str, value: float, n: int = 10) -> dict:
    return {"measure": measure, "domain": domain, "stage": stage, "value": value, "n": n,
            "ci_low": value - 5, "ci_high": value + 5, "ideal": 50.0}


def test_summary_shows_headline_domains_and_counts_the_rest() -> None:
    rows = [row("crows-pairs.score", d, s, v) for d in ("gender", "race", "age", "disability")
            for s, v in (("before", 55.0), ("after", 51.5))]
    text = render(summary_table(rows, "run x", extra_domains=("age",)))
    assert "gender" in text and "age" in text and "disability" not in text
    assert "1 more headline rows" in text and "-3.50" in text
    assert all(len(line) <= 80 for line in text.splitlines())


def test_summary_shows_the_paired_change_interval_and_p_of_the_test_items() -> None:
    import numpy as np
    import pyarrow as pa
    from scipy.stats import binomtest

    rng = np.random.default_rng(0)
    before = rng.random(400) < 0.7
    after = before & (rng.random(400) > 0.2)  # many pairs stop being stereotyped: 70 % -> about 56 %
    items = pa.Table.from_pylist([
        {"measure": "crows-pairs.score", "domain": "gender", "item": f"p{i}", "value": 100.0 * v, "weight": None, "group": None,
         "decision": bool(v), "split": "test" if i % 2 else "dev", "stage": stage}
        for stage, values in (("before", before), ("after", after)) for i, v in enumerate(values)])
    rows = [{**row("crows-pairs.score", "gender", stage, 100 * float(v.mean())), "aggregate": "mean", "better": "closer",
             "headline": True} for stage, v in (("before", before), ("after", after))]
    text = render(summary_table(rows, "run y", items=items))
    test = np.arange(400) % 2 == 1
    b, c = int(np.sum(before[test] & ~after[test])), int(np.sum(~before[test] & after[test]))
    delta = 100 * (after[test].mean() - before[test].mean())
    assert f"{delta:+.2f}" in text  # the change on the test items
    side = 1 if before[test].mean() > 0.5 else -1
    assert f"{side * delta:+.2f}" in text  # the signed change toward the ideal, shown first
    assert binomtest(min(b, c), b + c).pvalue < 0.001 and "<0.001" in text and "every figure on the held-out test items" in text
    assert "past 50" not in text
    crossed = before & (rng.random(400) > 0.45)  # 70 % -> about 39 %: past the ideal, and farther from it
    rows = [{**row("crows-pairs.score", "gender", stage, 100 * float(v.mean())), "aggregate": "mean", "better": "closer",
             "headline": True} for stage, v in (("before", before), ("after", crossed))]
    items = pa.Table.from_pylist([
        {"measure": "crows-pairs.score", "domain": "gender", "item": f"p{i}", "value": 100.0 * v, "weight": None, "group": None,
         "decision": bool(v), "split": "test" if i % 2 else "dev", "stage": stage}
        for stage, values in (("before", before), ("after", crossed)) for i, v in enumerate(values)])
    text = render(summary_table(rows, "run z", items=items))
    distance = abs(100 * crossed[test].mean() - 50) - abs(100 * before[test].mean() - 50)
    assert "past 50 by" in text and f"{distance:+.2f}" in text  # d is the change in distance, not the raw drop


def test_summary_of_only_other_domains_shows_them() -> None:
    text = render(summary_table([row("crows-pairs.score", "age", "before", 48.0)], "eval"))
    assert "age" in text and "48.00" in text


def test_best_trajectory_step_is_closest_to_the_ideals_not_the_last() -> None:
    values = {0: (55.0, 54.0), 10: (50.5, 49.0), 20: (44.0, 43.0)}  # step 20 overshoots past 50
    rows = [{"step": step, "forget_loss": -float(step), "metric": "crows-pairs", "measure": "crows-pairs.score", "domain": domain,
             "value": value, "ideal": 50.0, "distance": abs(value - 50.0)}
            for step, pair in values.items() for domain, value in zip(("gender", "race"), pair)]
    text = render(trajectory_table(rows))
    assert "10 *" in text and "20 *" not in text and "0 *" not in text.replace("10 *", "")
    assert all(len(line) <= 80 for line in text.splitlines())


def test_long_measure_names_stay_whole_at_80_columns() -> None:
    """Measures sit under their metric's heading, so ``winogender.gotcha-gap`` or
    ``bold.negative-unguarded`` never wrap into pieces (they did: ``wino`` / ``gend`` / ``er.g``)."""
    names = ("winogender.gotcha-gap", "bold.negative-unguarded", "perplexity.wikitext2", "stereoset-intra.ss")
    rows = [{**row(m, "gender", s, v), "headline": True} for m in names for s, v in (("before", 1.5e52), ("after", 24.3))]
    text = render(summary_table(rows, "run w"))
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    for name in names:
        metric, measure = name.split(".", 1)
        assert any(line.strip() == metric for line in lines)  # the heading row
        assert any(line.startswith(f" {measure} ") for line in lines)  # the measure, whole, on one line
    assert "1.50e+52" in text  # scientific notation, not a 50-digit number
