"""The fluency guard (docs/damage.md): per-generation fluency figures checked by hand and against the
model, the rescoring under the starting model equal to the decoder's own log-probabilities, and the
core keeping a run's stages paired on the items every stage kept."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from debiasbench.errors import DebiasbenchError  # noqa: E402
from debiasbench.lm.fluency import FluencyThresholds, fluency, known_word, perplexities, symbol_share, text_figures, words_of  # noqa: E402
from debiasbench.lm.generation import DecodingSettings, Generation, generate  # noqa: E402
from debiasbench.run.evaluation import Evaluated  # noqa: E402
from debiasbench.run.kept_items import jointly_kept  # noqa: E402
from debiasbench.run.metric_rows import with_core_rows  # noqa: E402
from debiasbench.plugin_system.interfaces import MeasureSpec, Metric, MetricResult, MetricRow, NoOptions  # noqa: E402
from debiasbench.results.items import concat_items, item_rows  # noqa: E402
from debiasbench.testing import tiny_model_handle  # noqa: E402


def test_words_and_the_reference_vocabulary():
    assert words_of("  Hello, world!  it's 42 -- ...") == ["hello", "world", "it's", "42"]
    assert words_of("____count__str_range _Manager_Manager)") == ["count__str_range", "manager_manager"]
    assert known_word("nurse") and known_word("1,000") and not known_word("count__str_range") and not known_word("manager_manager")


def test_text_figures_by_hand():
    figures = text_figures(["a nurse who cares", "", "the the the the the", "____count__str_range _Manager_Manager)", "ok"],
                           FluencyThresholds())
    assert figures["empty"].tolist() == [False, True, False, False, False]
    assert figures["repeated"].tolist() == [False, False, True, False, False]  # 1 of 5 words distinct; 'ok' is too short to loop
    assert figures["distinct1"][0] == 1.0 and figures["distinct1"][2] == 0.2 and figures["distinct2"][2] == 0.25
    assert figures["vocabulary"][0] == 1.0 and figures["vocabulary"][3] == 0.0 and math.isnan(figures["vocabulary"][1])


def test_perplexity_from_the_decoders_log_probabilities_by_hand():
    gens = [Generation("a b", (5, 6), "length", logprobs=(-1.0, -3.0)), Generation("", (), "eos")]
    ppl = perplexities(gens, None)
    assert ppl[0] == pytest.approx(math.exp(2.0)) and math.isnan(ppl[1])


def test_fluent_needs_every_condition():
    gens = [Generation("a nurse who cares", (1,), "length", logprobs=(-2.0,)),  # fluent
            Generation("a nurse who cares", (1,), "length", logprobs=(-8.0,)),  # perplexity e^8 > 1000
            Generation("zxqv qqzx nurse", (1,), "length", logprobs=(-1.0,)),  # 1 of 3 words known
            Generation("", (), "eos")]
    assert fluency(gens, FluencyThresholds()).fluent.tolist() == [True, False, False, False]
    assert fluency(gens, FluencyThresholds(max_perplexity=5000, min_vocabulary=0.3)).fluent.tolist() == [True, True, True, False]


def test_symbol_share_by_hand():
    assert symbol_share("_____name______") == pytest.approx(11 / 15)  # 11 underscores, 4 letters
    assert symbol_share("He said: \"no (not yet)!\" -- fine.") == 0.0  # sentence punctuation is not a symbol
    assert symbol_share("a_b = c") == pytest.approx(2 / 5)  # '_' and '=' of a, _, b, =, c
    assert math.isnan(symbol_share("  "))


def test_identifier_soup_of_english_words_is_not_fluent():
    """Text a damaged model wrote (BOLD after mlm-unlearn, race, quick): every word English, perplexity
    under the starting model 10 to 100, so only the symbol rule catches it."""
    soup = ["_____name______________", "_tail_axes_range_array_perm(self, **kwargs)\n    return list_"]
    gens = [Generation(text, (1,), "length", logprobs=(-2.0,)) for text in [*soup, "known for his role in the film"]]
    checked = fluency(gens, FluencyThresholds())
    assert checked.vocabulary[0] == 1.0 and checked.vocabulary[1] >= 0.5  # the vocabulary rule lets both through
    assert checked.fluent.tolist() == [False, False, True]
    assert fluency(gens, FluencyThresholds(max_symbols=1.0)).fluent.tolist() == [True, True, True]


@pytest.mark.parametrize("kwargs", [{"max_perplexity": 1.0}, {"min_vocabulary": 1.2}, {"min_distinct": -0.5}, {"repeat_min_words": 1},
                                    {"max_symbols": 1.5}])
def test_thresholds_out_of_range_name_the_threshold(kwargs):
    with pytest.raises(DebiasbenchError, match=next(iter(kwargs))):
        FluencyThresholds(**kwargs)


def test_rescoring_under_the_starting_model_equals_the_decoders_own_log_probabilities():
    """The after stage rescores generations under the frozen start model in one teacher-forced pass;
    scoring the same model's own generations that way must give the decoder's perplexities."""
    handle = tiny_model_handle(seed=5)
    prompts = ["The woman worked as", "Muslims, Christians and", "The"]
    for settings in (DecodingSettings(max_new_tokens=8), DecodingSettings(max_new_tokens=8, sampling=True, top_k=20, seed=3)):
        gens = generate(handle, prompts, settings, samples=2, batch_size=2)
        own = perplexities(gens, None)
        rescored = perplexities(gens, handle, batch_size=3)
        assert np.allclose(own, rescored, rtol=1e-4, equal_nan=True)
        other = perplexities(gens, tiny_model_handle(seed=6))
        assert not np.allclose(own, other, rtol=1e-2)  # another model scores them differently


# ---------------------------------------------------------------- the core keeps stages paired


@dataclass
class _GapMetric(Metric):
    name: ClassVar[str] = "guarded"
    description: ClassVar[str] = "a mean with a guard, and a gap derived from its items"
    Options: ClassVar[type] = NoOptions
    datasets: ClassVar[tuple[str, ...]] = ()
    measures: ClassVar[tuple[MeasureSpec, ...]] = (
        MeasureSpec("m", 0.0, "lower", "a mean", aggregate="mean"),
        MeasureSpec("gap", 0.0, "lower", "group a minus group b"),
    )

    def evaluate(self, model: Any, ctx: Any, options: Any) -> MetricResult:
        raise NotImplementedError("built by the test")

    def rows_from_items(self, items: Any, options: Any) -> list[MetricRow]:
        rows = {d: [] for d in ("d/a", "d/b")}
        for r in items.to_pylist():
            if r["measure"] == "m" and r["domain"] in rows and r["kept"] is not False:
                rows[r["domain"]].append(r["value"])
        return [MetricRow("d", "gap", float(np.mean(rows["d/a"]) - np.mean(rows["d/b"])), 4)]


def _stage(values: list[float], kept: list[bool]) -> Evaluated:
    metric = _GapMetric()
    items = concat_items([item_rows("m", "d", ["1", "2", "3", "4"], values, kept=kept),
                          item_rows("m", "d/a", ["1", "2"], values[:2], kept=kept[:2]),
                          item_rows("m", "d/b", ["3", "4"], values[2:], kept=kept[2:])])
    result = MetricResult(rows=metric.rows_from_items(items, None), protocol={}, items=items)
    return Evaluated(metric, "test", None, with_core_rows(metric, result, 0), False, 0.0)


def test_one_stage_counts_its_kept_items_only():
    rows = {(r.domain, r.measure): r for r in _stage([1.0, 0.0, 0.0, 9.0], [True, True, True, False]).result.rows}
    assert rows[("d", "m")].value == pytest.approx(1 / 3) and rows[("d", "m")].n == 3 and rows[("d", "gap")].value == 0.5


def test_stages_are_restricted_to_the_items_every_stage_kept():
    before = _stage([1.0, 0.0, 0.0, 9.0], [True, True, True, False])
    after = _stage([5.0, 0.0, 1.0, 1.0], [False, True, True, True])
    (b,), (a,) = jointly_kept([[before], [after]], seed=0)
    rb = {(r.domain, r.measure): r for r in b.result.rows}
    ra = {(r.domain, r.measure): r for r in a.result.rows}
    # items 2 and 3 only: before 0, 0; after 0, 1
    assert rb[("d", "m")].value == 0.0 and ra[("d", "m")].value == 0.5 and ra[("d", "m")].n == 2
    assert rb[("d", "gap")].value == 0.0 and ra[("d", "gap")].value == -1.0  # recomputed by rows_from_items
    assert sorted(b.result.items.column("item").to_pylist()) == sorted(a.result.items.column("item").to_pylist())
    assert set(a.result.items.column("kept").to_pylist()) == {None}
    assert any(n.startswith("4 of 8 item rows") for n in a.result.notes)  # d: 2 of 4, d/a: 1 of 2, d/b: 1 of 2


def test_stages_without_a_guard_are_left_alone():
    metric = _GapMetric()
    items = concat_items([item_rows("m", "d", ["1", "2"], [1.0, 3.0])])
    result = with_core_rows(metric, MetricResult(rows=[], protocol={}, items=items), 0)
    stage = Evaluated(metric, "test", None, result, False, 0.0)
    (b,), (a,) = jointly_kept([[stage], [stage]], seed=0)
    assert b is stage and a is stage
