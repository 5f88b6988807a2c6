"""The study controls of debiasbench-unlearn: random-tokens (complement draws, identity terms
matched), benign text (filtered), the benign-ga method (steered to a perplexity increase within a
tolerance, bisecting back after an overshoot) and the refusal of unmatched controls."""

from __future__ import annotations

import json
import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("debiasbench_unlearn")

from debiasbench_unlearn import controls_plugin, methods_plugin, selectors_plugin  # noqa: E402
from debiasbench_unlearn.controls import perplexity_increase  # noqa: E402

from debiasbench.errors import DebiasbenchError  # noqa: E402
from debiasbench.data.locator import DataLocator  # noqa: E402
from debiasbench.plugin_system.interfaces import ControlledPoint, ControlledResult, RunFacts, UnlearnContext  # noqa: E402
from debiasbench.plugin_system.loader import load_plugins  # noqa: E402
from debiasbench.plugin_system.options import build_options  # noqa: E402
from debiasbench.testing import tiny_model_handle  # noqa: E402
from tests.forget_texts import FORGET, RETAIN  # noqa: E402


@pytest.fixture(scope="module")
def registry():
    return load_plugins(extra={"methods": methods_plugin, "selectors": selectors_plugin, "controls": controls_plugin},
                        entry_points=[]).registry


def _metric_rows(before: float, after: float, metric: str = "perplexity") -> list[dict]:
    return [{"metric": metric, "measure": f"{metric}.x", "domain": "all", "stage": stage, "value": v, "headline": True}
            for stage, v in (("before", before), ("after", after))]


def test_perplexity_increase_reads_the_headline_before_and_after() -> None:
    rows = _metric_rows(20.0, 25.0) + _metric_rows(0.5, 0.4, metric="crows-pairs")
    assert perplexity_increase(rows, "perplexity") == pytest.approx(0.25)
    assert perplexity_increase(rows[:1], "perplexity") is None  # no after: nothing to compare
    assert perplexity_increase([], "perplexity") is None


def _point(**kw) -> ControlledPoint:
    base = dict(method="mlm-unlearn", method_options={"learning_rate": 4e-5}, selector="annotated", selector_options={},
                domain="gender", seed=1)
    base.update(kw)
    return ControlledPoint(**base)


def test_random_tokens_swaps_the_selector_and_takes_its_budget(registry) -> None:
    control = registry.get("control", "random-tokens")
    arm = control.derive(_point(selector_options={"level": "inclusive"}, selector="lexicon"), None)
    assert arm.method == "mlm-unlearn"
    assert arm.method_options == {"learning_rate": 4e-5, "selector": "random"}
    assert arm.selector_options == {"budget_from": "lexicon", "level": "inclusive"}
    assert control.applies(_point(selector=None)) is not None  # token-ga: nothing to randomise
    assert "leaves no choice" in control.applies(_point(selector="all"))
    with pytest.raises(DebiasbenchError, match="cannot control"):
        control.derive(_point(selector=None), None)


def test_benign_ga_control_targets_the_held_out_increase(registry) -> None:
    control = registry.get("control", "benign-ga")
    assert control.needs_result
    result = ControlledResult(run_id="r1", run={"steps": 24}, metrics=_metric_rows(28.0, 32.2), trajectory=[])
    arm = control.derive(_point(method_options={"learning_rate": 4e-5, "selector": "annotated", "epochs": 1}), result)
    assert arm.method == "benign-ga"
    assert arm.method_options == {"learning_rate": 4e-5, "max_steps": 192, "epochs": 192, "measure_every": 6,
                                  "target_ppl_increase": 0.15, "identity_terms": True}  # 32.2 / 28 - 1
    flat = ControlledResult(run_id="r2", run={"steps": 1}, metrics=_metric_rows(28.0, 27.0), trajectory=[])
    assert control.derive(_point(), flat).method_options["target_ppl_increase"] == pytest.approx(1e-4)  # no increase: the smallest
    assert control.derive(_point(), flat).method_options["max_steps"] == 16
    assert registry.get("control", "benign-ga-no-identity").derive(_point(), result).method_options["identity_terms"] is False
    with pytest.raises(DebiasbenchError, match="no perplexity before and after"):
        control.derive(_point(), ControlledResult(run_id="r3", run={"steps": 3}, metrics=[], trajectory=[]))


def test_an_unmatched_benign_control_is_refused_with_its_reason(registry) -> None:
    control = registry.get("control", "benign-ga")
    method = ControlledResult(run_id="m", run={}, metrics=_metric_rows(20.0, 22.0), trajectory=[])  # +10 %
    for after, matched in ((22.0, True), (22.2, True), (21.8, True), (22.3, False), (21.7, False)):
        ctl = ControlledResult(run_id="c", run={"method_info": json.dumps({})}, metrics=_metric_rows(20.0, after), trajectory=[])
        reason = control.matched(method, ctl)
        assert (reason is None) == matched, (after, reason)
    short = ControlledResult(run_id="c", run={"method_info": json.dumps({"target_not_reached": 0.1})},
                             metrics=_metric_rows(20.0, 20.5), trajectory=[])
    assert "outside +-10%" in control.matched(method, short) and "not reached" in control.matched(method, short)
    assert registry.get("control", "random-tokens").matched(method, short) is None  # nothing to match


def test_benign_texts_hold_no_slur_focus_word_or_hurtlex_lemma() -> None:
    from debiasbench_unlearn.benign_text import SLUR_FUNCTIONALITIES, FocusMatcher, benign_texts
    from debiasbench_unlearn.hatecheck import CASES, COLUMNS
    from debiasbench_unlearn.lexicon import HURTLEX, lexicon_matcher
    from debiasbench_unlearn.tables import read_csv

    data = DataLocator()
    rows = read_csv(data.path(CASES), COLUMNS)
    harmful = FocusMatcher(r["focus_words"] for r in rows if r["label_gold"] == "hateful" or r["functionality"] in SLUR_FUNCTIONALITIES)
    for domain, term in (("gender", "women"), ("race", "black"), ("religion", "muslim")):
        benign = benign_texts(data, domain)
        hurtlex = lexicon_matcher(data.path(HURTLEX), "conservative", (), domain, identity=False)
        assert len(benign.texts) >= 30 and benign.candidates == len(benign.texts) + sum(benign.dropped.values())
        for text in benign.texts:
            assert not harmful.found(text), text
            assert all(text[a:b].lower() in identity_terms_of(domain) for a, b in hurtlex.spans(text)), text
        assert sum(term in t.lower() for t in benign.texts) >= len(benign.texts) // 2  # they name the group
    assert harmful.found("I hate women.") and harmful.found("Their lives are worth nothing.")
    assert not harmful.found("I am going to make those women smile.")  # "make ... suffer" needs both parts
    with pytest.raises(DebiasbenchError, match="no benign text for domain 'age'"):
        benign_texts(data, "age")


def identity_terms_of(domain: str) -> set[str]:
    from debiasbench_unlearn.identity_terms import domain_terms

    return {t.lower() for t in domain_terms(domain)}


def test_complement_draw_never_touches_the_picks_and_matches_identity_counts() -> None:
    import numpy as np

    from debiasbench_unlearn.random_selector import complement_draw

    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(4, 30))
        picked = rng.random(n) < 0.3
        identity = rng.random(n) < 0.25
        real = rng.random(n) < 0.95
        picked &= real
        mask, counts = complement_draw(picked, identity, real, rng)
        mask = np.asarray(mask)
        assert not (mask & picked).any() and counts.overlap == 0
        assert not (mask & ~real).any()
        pool_id, pool_other = (real & identity & ~picked).sum(), (real & ~identity & ~picked).sum()
        assert (mask & identity).sum() == min((picked & identity).sum(), pool_id)
        assert (mask & ~identity).sum() == min((picked & ~identity).sum(), pool_other)
        assert counts.budget == picked.sum() and counts.drawn == mask.sum()


def test_random_selector_records_its_draw(registry) -> None:
    from debiasbench.plugin_system.interfaces import SelectorContext
    from debiasbench_unlearn.selection import tokenize_forget

    handle = tiny_model_handle(seed=0, texts=[t.text for t in FORGET])
    items = tokenize_forget(handle.tokenizer, FORGET)
    ctx = SelectorContext(model=handle, data=DataLocator(), registry=registry, domain=FORGET[0].domain, seed=3,
                          options={"budget_from": "annotated"})
    masks = registry.get("selector", "random").select(items, ctx)
    picks = registry.get("selector", "annotated").select(items, SelectorContext(model=handle, data=DataLocator(), registry=registry,
                                                                                 domain=FORGET[0].domain, seed=3))
    assert not any(m and p for mask, pick in zip(masks, picks) for m, p in zip(mask, pick))
    assert ctx.notes["overlap_with_budget"] == 0 and ctx.notes["budget_from"] == "annotated"
    assert ctx.notes["budget_tokens"] == sum(map(sum, picks)) and ctx.notes["drawn_tokens"] == sum(map(sum, masks))
    assert ctx.notes["identity_tokens_drawn"] <= ctx.notes["identity_tokens_budget"]


def test_benign_ga_plan_checks(registry) -> None:
    method = registry.get("method", "benign-ga")
    options = build_options(method.Options, {"target_ppl_increase": "0.1"}, "benign-ga")
    facts = dict(domain="gender", preset="default", forget_set="hatecheck", probed_metrics=(), eval_every=None)
    method.check_run(options, RunFacts(metrics=("perplexity", "crows-pairs"), **facts))
    with pytest.raises(DebiasbenchError, match="does not evaluate"):
        method.check_run(options, RunFacts(metrics=("crows-pairs",), **facts))
    with pytest.raises(DebiasbenchError, match="no benign text"):
        method.check_run(options, RunFacts(metrics=("perplexity",), data=DataLocator(), **{**facts, "domain": "age"}))
    with pytest.raises(DebiasbenchError, match="positive fraction"):
        build_options(method.Options, {"target_ppl_increase": "-0.1"}, "benign-ga")
    assert not method.needs_retain


def _steered(registry, target: str, identity_terms: str = "true", lr: str = "3e-3", max_steps: str = "60"):
    """benign-ga on the tiny model, measuring the real perplexity of a fixed text as the run would."""
    from debiasbench.lm.logprobs import mean_nll
    from debiasbench_unlearn.benign_text import benign_texts

    texts = benign_texts(DataLocator(), "gender").texts
    handle = tiny_model_handle(seed=0, texts=[t.text for t in FORGET] + RETAIN + texts)
    held_out = [handle.tokenizer(t, add_special_tokens=False)["input_ids"] for t in RETAIN]
    measured: list[float] = []

    def measure(metric: str) -> float:
        assert metric == "perplexity"
        value = math.exp(mean_nll(handle.model, held_out, [[True] * len(s) for s in held_out], 0))
        measured.append(value)
        return value

    facts = RunFacts(domain="gender", preset="default", eval_every=None, probed_metrics=(), forget_set="hatecheck",
                     data=DataLocator(), metrics=("perplexity",))
    ctx = UnlearnContext(forget=FORGET, retain=[], selector=None, selector_ctx=None, registry=registry, seed=0,
                         run=facts, measure=measure)
    method = registry.get("method", "benign-ga")
    options = build_options(method.Options, {"target_ppl_increase": target, "max_steps": max_steps, "epochs": "60",
                                             "learning_rate": lr, "identity_terms": identity_terms}, "benign-ga")
    return method.unlearn(handle, options, ctx), measured, handle


def test_benign_ga_lands_within_the_tolerance_of_the_target(registry) -> None:
    outcome, measured, _ = _steered(registry, "0.2")
    final = measured[-1] / measured[0] - 1
    assert abs(final - 0.2) <= 0.02 and outcome.info["reached_ppl_increase"] == pytest.approx(final)
    assert outcome.stop_reason.startswith("perplexity +") and "matches the target +20.00%" in outcome.stop_reason
    assert outcome.info["benign_texts"] >= 30 and outcome.info["identity_terms"] is True
    assert outcome.selected_tokens == outcome.total_tokens  # every token of the benign texts


def test_benign_ga_bisects_back_after_an_overshoot(registry) -> None:
    outcome, measured, _ = _steered(registry, "0.05", lr="3e-2")  # large steps: the first crossing overshoots
    assert outcome.info["bisection_alpha"] is not None and 0 <= outcome.info["bisection_alpha"] < 1
    assert abs(measured[-1] / measured[0] - 1 - 0.05) <= 0.005 or "target_not_matched" in outcome.info


def test_benign_ga_without_identity_terms_leaves_the_group_name_alone(registry) -> None:
    outcome, _, _ = _steered(registry, "0.2", identity_terms="false")
    assert outcome.selected_tokens < outcome.total_tokens and outcome.info["identity_terms"] is False


def test_benign_ga_says_so_when_it_cannot_reach_the_target(registry) -> None:
    outcome, _, _ = _steered(registry, "50.0", lr="1e-6", max_steps="3")
    assert outcome.steps == 3 and outcome.stop_reason == "steps" and outcome.info["target_not_reached"] == 50.0
