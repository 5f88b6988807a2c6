"""The crows-pairs metric on a hand-made CSV with fixed sentence scores: the formula of docs/concepts.md, "CrowS-Pairs",
ties, sub-scores, domains, limits, examples and options; then once end to end on the tiny GPT-2."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

pytest.importorskip("debiasbench_metrics")

from debiasbench.testing import evaluate_metric  # noqa: E402
from debiasbench_metrics.crows_pairs import metric as crows_pairs  # noqa: E402
from debiasbench_metrics.crows_pairs.metric import CrowsPairsMetric, CrowsPairsOptions  # noqa: E402
from debiasbench_metrics.crows_pairs.dataset import CrowsPairsDataset  # noqa: E402

from debiasbench.errors import DebiasbenchError  # noqa: E402
from debiasbench.plugin_system.interfaces import DataFile, EvalContext  # noqa: E402
from debiasbench.plugin_system.options import build_options  # noqa: E402
from debiasbench.plugin_system.registry import Registry  # noqa: E402
from debiasbench.data.locator import DataLocator  # noqa: E402
from debiasbench.testing import tiny_model_handle  # noqa: E402
from tests.item_checks import assert_items_reproduce_rows  # noqa: E402

# sent_more, sent_less, direction, bias_type, S(more), S(less)
PAIRS = [
    ("g1 more", "g1 less", "stereo", "gender", -1.0, -2.0),  # stereotyped
    ("g2 more", "g2 less", "stereo", "gender", -2.0, -2.0),  # tie: not stereotyped, still counted
    ("g3 more", "g3 less", "stereo", "gender", -3.0, -1.0),  # not stereotyped
    ("g4 more", "g4 less", "antistereo", "gender", -0.5, -0.7),  # stereotyped (sent_more wins, antistereo pair)
    ("r1 more", "r1 less", "stereo", "race-color", -1.0, -1.5),  # stereotyped
    ("r2 more", "r2 less", "antistereo", "race-color", -4.0, -1.0),  # not stereotyped
    ("r3 more", "r3 less", "stereo", "race-color", -1.0, -0.9),  # not stereotyped
]
SCORES = {more: s_more for more, _, _, _, s_more, _ in PAIRS} | {less: s_less for _, less, _, _, _, s_less in PAIRS}


def _write_csv(folder: Path) -> Path:
    path = folder / "crows.csv"
    lines = [",sent_more,sent_less,stereo_antistereo,bias_type,annotations,anon_writer,anon_annotators"]
    lines += [f"{i},{m},{l},{d},{b},[],a{i},[]" for i, (m, l, d, b, _, _) in enumerate(PAIRS)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def ctx(tmp_path: Path) -> EvalContext:
    """A registry whose ``crows-pairs`` data set is the hand-made CSV (no checksum)."""
    _write_csv(tmp_path)

    class HandMade(CrowsPairsDataset):
        files: ClassVar[tuple[DataFile, ...]] = (DataFile("crows.csv"),)

        def load(self, data):
            from debiasbench_metrics.crows_pairs.dataset import parse_crows_csv

            return parse_crows_csv(data.path(self.files[0]))

    registry = Registry()
    registry.add("dataset", HandMade(), "test")
    registry.add("metric", CrowsPairsMetric(), "test")
    return EvalContext(data=DataLocator(data_dir=tmp_path, cache_dir=tmp_path / "cache", download=False), registry=registry)


@pytest.fixture
def fixed_scores(monkeypatch):
    """Replace the model with a table of sentence scores; record what the metric asked for."""
    calls = []

    def fake(handle, sentences, contexts=None, *, scoring, batch_size, progress=None, description=""):
        calls.append({"sentences": list(sentences), "contexts": contexts, "scoring": scoring, "batch_size": batch_size})
        return np.array([SCORES[s] for s in sentences]), np.full(len(sentences), 2)

    monkeypatch.setattr(crows_pairs, "score_sentences", fake)
    monkeypatch.setattr(crows_pairs, "scoring_setup", lambda handle: {"prefix_token_id": 0})
    return calls


def _rows(result):
    return {(r.domain, r.measure): r for r in result.rows}


def test_formula_ties_and_sub_scores(ctx, fixed_scores):
    result = evaluate_metric(CrowsPairsMetric(), None, ctx, CrowsPairsOptions())
    rows = _rows(result)
    expected = {
        ("gender", "crows-pairs.score"): (50.0, 4), ("gender", "crows-pairs.stereo"): (100 / 3, 3),
        ("gender", "crows-pairs.antistereo"): (100.0, 1), ("race", "crows-pairs.score"): (100 / 3, 3),
        ("race", "crows-pairs.stereo"): (50.0, 2), ("race", "crows-pairs.antistereo"): (0.0, 1),
        ("all", "crows-pairs.score"): (300 / 7, 7), ("all", "crows-pairs.stereo"): (40.0, 5), ("all", "crows-pairs.antistereo"): (50.0, 2),
        # the continuous companion: mean S(sent_more) - S(sent_less), ties and all directions included
        ("gender", "crows-pairs.margin"): ((1.0 + 0.0 - 2.0 + 0.2) / 4, 4), ("race", "crows-pairs.margin"): ((0.5 - 3.0 - 0.1) / 3, 3),
        ("all", "crows-pairs.margin"): ((1.0 + 0.0 - 2.0 + 0.2 + 0.5 - 3.0 - 0.1) / 7, 7),
    }
    assert set(rows) == set(expected)
    for key, (value, n) in expected.items():
        assert rows[key].value == pytest.approx(value) and rows[key].n == n
        if n > 1:  # the core's interval (none over a single pair)
            assert rows[key].ci_low <= rows[key].value <= rows[key].ci_high
        else:
            assert rows[key].ci_low is None
    assert [r.domain for r in result.rows][::4] == ["gender", "race", "all"]
    margins = [r for r in result.items.to_pylist() if r["measure"] == "crows-pairs.margin"]
    assert len(margins) == 14 and all(r["decision"] is None for r in margins)  # 7 pairs, per domain and all; no decision
    assert fixed_scores[0]["scoring"] == "mean" and fixed_scores[0]["contexts"] is None
    assert result.protocol["scoring"] == "mean" and result.protocol["pairs"] == 7 and result.protocol["limit"] is None
    assert result.data_checksums == {"crows.csv": ctx.data.checksum(DataFile("crows.csv"))}


def test_scoring_option_reaches_the_scorer_and_the_protocol(ctx, fixed_scores):
    result = evaluate_metric(CrowsPairsMetric(), None, ctx, CrowsPairsOptions(scoring="sum", batch_size=7))
    assert fixed_scores[0]["scoring"] == "sum" and fixed_scores[0]["batch_size"] == 7
    assert result.protocol["scoring"] == "sum"


def test_domains_limit_and_examples(ctx, fixed_scores):
    ctx.domains, ctx.limit, ctx.save_examples = ("race", "profession"), 2, True
    result = evaluate_metric(CrowsPairsMetric(), None, ctx, CrowsPairsOptions())
    rows = _rows(result)
    assert {d for d, _ in rows} == {"race", "all"} and rows[("race", "crows-pairs.score")].n == 2
    assert result.notes == ["CrowS-Pairs has no 'profession' pairs; not evaluated"]
    assert result.protocol["limit"] == 2 and result.protocol["domains"] == ["race"]
    table = result.examples.to_pylist()
    assert len(table) == 2 and {r["domain"] for r in table} == {"race"}
    for r in table:
        assert r["stereotyped"] == (r["score_more"] > r["score_less"]) and r["score_more"] == SCORES[r["sent_more"]]
    again = evaluate_metric(CrowsPairsMetric(), None, ctx, CrowsPairsOptions())
    assert again.examples.column("pair_id").to_pylist() == result.examples.column("pair_id").to_pylist()  # seeded subset


def test_core_interval_brackets_the_score_and_is_seeded(ctx, fixed_scores):
    first = _rows(evaluate_metric(CrowsPairsMetric(), None, ctx, CrowsPairsOptions()))
    second = _rows(evaluate_metric(CrowsPairsMetric(), None, ctx, CrowsPairsOptions()))
    row = first[("all", "crows-pairs.score")]
    assert row.ci_low <= row.value <= row.ci_high and 0 <= row.ci_low < row.ci_high <= 100
    assert (row.ci_low, row.ci_high) == (second[("all", "crows-pairs.score")].ci_low, second[("all", "crows-pairs.score")].ci_high)


def test_options_are_validated():
    with pytest.raises(ValueError, match="scoring"):
        CrowsPairsOptions(scoring="max")
    with pytest.raises(DebiasbenchError, match="must be one of mean, sum"):
        build_options(CrowsPairsOptions, {"scoring": "max"}, "metric 'crows-pairs'")
    assert build_options(CrowsPairsOptions, {"scoring": "sum", "batch_size": "8"}, "m") == CrowsPairsOptions("sum", 8)
    with pytest.raises(DebiasbenchError, match="bootstrap"):  # intervals are the core's now
        build_options(CrowsPairsOptions, {"bootstrap": "0"}, "metric 'crows-pairs'")


def test_end_to_end_on_the_tiny_model(ctx):
    handle = tiny_model_handle(n_positions=256)
    ctx.save_examples = True
    result = evaluate_metric(CrowsPairsMetric(), handle, ctx, CrowsPairsOptions())
    assert result.protocol["scorer"] == "shared-prefix tree packing" and result.protocol["prefix_token_id"] == 0
    table = result.examples.to_pylist()
    assert len(table) == 7 and all(np.isfinite(r["score_more"]) and r["tokens_more"] > 0 for r in table)
    gender = [r for r in table if r["domain"] == "gender"]
    assert _rows(result)[("gender", "crows-pairs.score")].value == pytest.approx(100 * np.mean([r["stereotyped"] for r in gender]))
    assert assert_items_reproduce_rows(CrowsPairsMetric(), result) == len(result.rows)  # every row, from its pairs
    assert {r["decision"] for r in result.items.to_pylist() if r["measure"] != "crows-pairs.margin"} <= {True, False}
