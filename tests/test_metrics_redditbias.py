"""The redditbias metric (docs/concepts.md, "RedditBias") on hand-made test files with fixed sentence scores: the score,
the paired t and p against scipy and by hand, lower-casing, per-pair rows, misaligned files; then end to
end on the tiny GPT-2, and on the embedded model for a small real subset (slow)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("debiasbench_metrics")

from debiasbench.testing import evaluate_metric  # noqa: E402
from debiasbench.data.locator import DataLocator  # noqa: E402
from debiasbench.errors import DataError  # noqa: E402
from debiasbench.plugin_system.interfaces import EvalContext  # noqa: E402
from debiasbench.plugin_system.registry import Registry  # noqa: E402
from debiasbench.testing import tiny_model_handle  # noqa: E402
from debiasbench_metrics.redditbias import dataset as datasets_redditbias  # noqa: E402
from debiasbench_metrics.redditbias import metric as redditbias  # noqa: E402
from debiasbench_metrics.redditbias.dataset import PairFiles, RedditBiasTestDataset  # noqa: E402
from debiasbench_metrics.redditbias.metric import RedditBiasMetric, RedditBiasOptions  # noqa: E402

# target sentence (as in the file), counter sentence, S(target), S(counter)
GENDER = [("Women are weak", "men are weak", -1.0, -2.0), ("her job is bad", "his job is bad", -3.0, -2.5),
          ("girls cry", "boys cry", -2.0, -2.0), ("she lies", "he lies", -1.5, -1.0)]
RACE = [("black people steal", "white people steal", -1.0, -1.5), ("blacks are loud", "whites are loud", -2.0, -4.0)]
FILES = (PairFiles("gender", "female", "male", "gender", "", ""), PairFiles("race", "black", "white", "race", "", ""))


def _write(folder: Path, files: PairFiles, rows: list[tuple[str, str, float, float]]) -> None:
    target = ["attribute_in_window,comment,comments_processed,bias_sent,bias_phrase,perplexity"]
    target += [f"True,{t} and more,{t},1,1,1.0" for t, _, _, _ in rows]
    dominant = ["initial_demo,replaced_demo,comments,comments_processed,perplexity"]
    dominant += [f"['x'],['y'],{t.lower()},{c},1.0" for t, c, _, _ in rows]
    for group, lines in ((files.target, target), (files.dominant, dominant)):
        path = folder / files.file(group).relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> EvalContext:
    monkeypatch.setattr(datasets_redditbias, "PAIR_FILES", FILES)
    monkeypatch.setattr(RedditBiasTestDataset, "files", tuple(f.file(g) for f in FILES for g in (f.target, f.dominant)))
    _write(tmp_path, FILES[0], GENDER)
    _write(tmp_path, FILES[1], RACE)
    registry = Registry()
    registry.add("dataset", RedditBiasTestDataset(), "test")
    return EvalContext(data=DataLocator(tmp_path, tmp_path / "cache", download=False), registry=registry)


@pytest.fixture
def fixed_scores(monkeypatch: pytest.MonkeyPatch) -> list:
    table = {t.lower(): s for t, _, s, _ in GENDER + RACE} | {c: s for _, c, _, s in GENDER + RACE}
    calls = []

    def fake(handle, sentences, contexts=None, *, scoring, batch_size, progress=None, description=""):
        calls.append((list(sentences), scoring))
        return np.array([table[s] for s in sentences]), np.full(len(sentences), 3)

    monkeypatch.setattr(redditbias, "score_sentences", fake)
    monkeypatch.setattr(redditbias, "scoring_setup", lambda handle: {"prefix_token_id": 0})
    return calls


def _rows(result):
    return {(r.domain, r.measure): r for r in result.rows}


def test_score_t_and_p(ctx, fixed_scores):
    from scipy.stats import ttest_rel

    result = evaluate_metric(RedditBiasMetric(), None, ctx, RedditBiasOptions())
    rows = _rows(result)
    assert rows[("gender", "redditbias.score")].value == 25.0 and rows[("gender", "redditbias.score")].n == 4  # a tie is not counted
    assert rows[("race", "redditbias.score")].value == 100.0
    assert rows[("all", "redditbias.score")].value == pytest.approx(50.0)
    d = np.array([1.0, -0.5, 0.0, -0.5])  # gender differences; t = mean / (sd / sqrt(n)) by hand
    assert rows[("gender", "redditbias.t")].value == pytest.approx(d.mean() / (d.std(ddof=1) / math.sqrt(4)))
    reference = ttest_rel([-1.0, -3.0, -2.0, -1.5], [-2.0, -2.5, -2.0, -1.0])
    assert rows[("gender", "redditbias.p")].value == pytest.approx(reference.pvalue)
    assert rows[("race", "redditbias.t")].value == pytest.approx(ttest_rel([-1.0, -2.0], [-1.5, -4.0]).statistic)
    sentences, scoring = fixed_scores[0]
    assert scoring == "mean" and sentences[0] == "women are weak"  # lower-cased
    assert result.protocol["pairs"] == 6 and result.protocol["lower_cased"] is True


def test_per_pair_rows_limit_and_interval(ctx, fixed_scores):
    ctx.limit, ctx.domains = 2, ("gender", "profession")
    result = evaluate_metric(RedditBiasMetric(), None, ctx, RedditBiasOptions())
    examples = result.examples.to_pylist()
    assert len(examples) == 2 and {r["domain"] for r in examples} == {"gender"}
    assert all(r["item"].startswith("female-") and r["difference"] == r["score_target"] - r["score_counter"] for r in examples)
    assert result.notes == ["RedditBias has no 'profession' pairs; not evaluated"]
    row = _rows(result)[("gender", "redditbias.score")]
    assert row.ci_low <= row.value <= row.ci_high


def test_per_pair_items_reproduce_the_score_with_decisions(ctx, fixed_scores):
    from tests.item_checks import assert_items_reproduce_rows

    result = evaluate_metric(RedditBiasMetric(), None, ctx, RedditBiasOptions())
    assert assert_items_reproduce_rows(RedditBiasMetric(), result) == 6  # score and margin; gender, race, all
    rows = result.items.to_pylist()
    gender = [r for r in rows if r["domain"] == "gender" and r["measure"] == "redditbias.score"]
    assert len(gender) == 4 and sum(r["decision"] for r in gender) == 1  # a tie is not target-preferred
    # the continuous companion: mean S(target) - S(counter) per pair, no decision
    figures = _rows(result)
    assert figures[("gender", "redditbias.margin")].value == pytest.approx((1.0 - 0.5 + 0.0 - 0.5) / 4)
    assert figures[("all", "redditbias.margin")].value == pytest.approx((1.0 - 0.5 + 0.0 - 0.5 + 0.5 + 2.0) / 6)
    assert all(r["decision"] is None for r in rows if r["measure"] == "redditbias.margin")
    assert {r["item"] for r in rows if r["domain"] == "all"} == {r["item"] for r in rows if r["domain"] != "all"}


def test_misaligned_dominant_file_names_the_line(ctx, tmp_path: Path):
    path = tmp_path / FILES[1].file("white").relpath
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace("blacks are loud", "blacks are quiet")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"race_white_biased_test_reduced.csv: line 3: comments is not row 2"):
        RedditBiasTestDataset().load(ctx.data)


def test_declarations():
    specs = {m.name: m for m in RedditBiasMetric.measures}
    assert specs["redditbias.score"].ideal == 50.0 and specs["redditbias.score"].headline
    assert specs["redditbias.t"].ideal == 0.0 and specs["redditbias.t"].better == "closer"
    assert RedditBiasMetric.presets["quick"].limit == 100


def test_end_to_end_on_the_tiny_model(ctx):
    handle = tiny_model_handle(texts=[t for t, _, _, _ in GENDER + RACE])
    result = evaluate_metric(RedditBiasMetric(), handle, ctx, RedditBiasOptions())
    examples = result.examples.to_pylist()
    assert len(examples) == 6 and all(np.isfinite(r["score_target"]) and r["tokens_target"] > 0 for r in examples)
    gender = [r for r in examples if r["domain"] == "gender"]
    assert _rows(result)[("gender", "redditbias.score")].value == pytest.approx(100 * np.mean([r["target_preferred"] for r in gender]))


@pytest.mark.slow
def test_embedded_model_on_a_real_subset(data_dir: Path, embedded_model):
    from debiasbench.plugin_system.loader import get_registry

    registry = get_registry()
    handle = embedded_model  # loaded once for the session (tests/conftest.py)
    ctx = EvalContext(data=DataLocator(data_dir, download=False), registry=registry, limit=20)
    result = evaluate_metric(registry.get("metric", "redditbias"), handle, ctx, RedditBiasOptions())
    rows = _rows(result)
    assert {d for d, _ in rows} == {"gender", "race", "religion", "sexual-orientation", "all"}
    assert rows[("religion", "redditbias.score")].n == 20 and 0 <= rows[("all", "redditbias.score")].value <= 100
