"""The study controls of debiasbench-unlearn: the benign-ga method (neutral text, stopped at a
probe perplexity increase) and the random-tokens / benign-ga Control objects."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("debiasbench_unlearn")

from debiasbench_unlearn import controls_plugin, methods_plugin, selectors_plugin  # noqa: E402
from debiasbench_unlearn.benign_ga import probe_increase  # noqa: E402

from debiasbench.errors import DebiasbenchError  # noqa: E402
from debiasbench.plugin_system.interfaces import ControlledPoint, ControlledResult, RunFacts, UnlearnContext  # noqa: E402
from debiasbench.plugin_system.loader import load_plugins  # noqa: E402
from debiasbench.plugin_system.options import build_options  # noqa: E402
from debiasbench.testing import tiny_model_handle  # noqa: E402
from tests.forget_texts import FORGET, RETAIN  # noqa: E402


@pytest.fixture(scope="module")
def registry():
    return load_plugins(extra={"methods": methods_plugin, "selectors": selectors_plugin, "controls": controls_plugin},
                        entry_points=[]).registry


def _row(step: int, value: float, metric: str = "perplexity", domain: str = "all") -> dict:
    return {"step": step, "metric": metric, "measure": f"{metric}.x", "domain": domain, "value": value, "headline": True}


def test_probe_increase_reads_the_headline_figure_of_the_metric() -> None:
    rows = [_row(0, 20.0), _row(0, 0.5, metric="crows-pairs"), _row(4, 23.0), _row(8, 25.0)]
    assert probe_increase(rows, "perplexity") == pytest.approx(0.25)
    assert probe_increase(rows[:2], "perplexity") is None  # one probe: nothing to compare
    assert probe_increase([], "perplexity") is None


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


def test_benign_ga_control_matches_the_controlled_runs_increase(registry) -> None:
    control = registry.get("control", "benign-ga")
    assert control.needs_result
    result = ControlledResult(run_id="r1", run={"steps": 23}, metrics=[],
                              trajectory=[_row(0, 28.0), _row(12, 30.0), _row(23, 32.2)])
    arm = control.derive(_point(method_options={"learning_rate": 4e-5, "selector": "annotated", "epochs": 1}), result)
    assert arm.method == "benign-ga"
    assert arm.method_options == {"learning_rate": 4e-5, "max_steps": 92, "target_ppl_increase": 0.15}  # 32.2 / 28 - 1
    flat = ControlledResult(run_id="r2", run={"steps": 1}, metrics=[], trajectory=[_row(0, 28.0), _row(1, 27.0)])
    assert control.derive(_point(), flat).method_options["target_ppl_increase"] == pytest.approx(1e-4)  # no increase: the smallest
    assert control.derive(_point(), flat).method_options["max_steps"] == 8
    with pytest.raises(DebiasbenchError, match="no perplexity trajectory"):
        control.derive(_point(), ControlledResult(run_id="r3", run={"steps": 3}, metrics=[], trajectory=[]))


def test_benign_ga_plan_checks(registry) -> None:
    method = registry.get("method", "benign-ga")
    options = build_options(method.Options, {"target_ppl_increase": "0.1"}, "benign-ga")
    facts = dict(domain="gender", preset="default", forget_set="hatecheck", probed_metrics=("perplexity",))
    method.check_run(options, RunFacts(eval_every=4, **facts))
    with pytest.raises(DebiasbenchError, match="add --eval-every"):
        method.check_run(options, RunFacts(eval_every=None, **facts))
    with pytest.raises(DebiasbenchError, match="does not probe"):
        method.check_run(options, RunFacts(eval_every=4, **{**facts, "probed_metrics": ("crows-pairs",)}))
    with pytest.raises(DebiasbenchError, match="positive fraction"):
        build_options(method.Options, {"target_ppl_increase": "-0.1"}, "benign-ga")
    assert method.needs_retain


def test_benign_ga_trains_on_the_neutral_text_and_stops_at_the_target(registry) -> None:
    handle = tiny_model_handle(seed=0, texts=[t.text for t in FORGET] + RETAIN)
    method = registry.get("method", "benign-ga")
    trajectory: list[dict] = [_row(0, 10.0)]
    seen: list[int] = []

    def on_step(info) -> bool:  # the core's probe: here perplexity rises 4% a step
        seen.append(info.step)
        trajectory.append(_row(info.step, 10.0 * (1 + 0.04 * info.step)))
        return False

    ctx = UnlearnContext(forget=FORGET, retain=RETAIN, selector=None, selector_ctx=None, registry=registry, seed=0,
                         on_step=on_step, trajectory=trajectory)
    before = [p.detach().clone() for p in handle.model.parameters()]
    options = build_options(method.Options, {"target_ppl_increase": "0.1", "max_steps": "20", "batch_size": "1"}, "benign-ga")
    outcome = method.unlearn(handle, options, ctx)
    assert outcome.steps == 3 and seen == [1, 2, 3]  # +4%, +8%, +12% >= +10%
    assert outcome.stop_reason == "probe perplexity +12.0% >= target +10.0%"
    assert outcome.info["neutral_texts"] == len(RETAIN) and outcome.info["probe_ppl_increase"] == pytest.approx(0.12)
    assert any(not torch.equal(a, b) for a, b in zip(before, handle.model.parameters()))
    # it trained on the neutral texts: every token of them, none of the hateful ones
    assert outcome.total_tokens == outcome.selected_tokens
    n_retain_tokens = sum(len(handle.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in RETAIN)
    assert outcome.total_tokens == n_retain_tokens


def test_benign_ga_without_a_target_says_so_when_it_runs_out(registry) -> None:
    handle = tiny_model_handle(seed=0, texts=[t.text for t in FORGET] + RETAIN)
    method = registry.get("method", "benign-ga")
    trajectory: list[dict] = [_row(0, 10.0)]
    ctx = UnlearnContext(forget=FORGET, retain=RETAIN, selector=None, selector_ctx=None, registry=registry, seed=0,
                         on_step=lambda info: trajectory.append(_row(info.step, 10.0)) and False, trajectory=trajectory)
    options = build_options(method.Options, {"target_ppl_increase": "0.5", "max_steps": "2"}, "benign-ga")
    outcome = method.unlearn(handle, options, ctx)
    assert outcome.steps == 2 and outcome.stop_reason == "steps" and outcome.info["target_not_reached"] == 0.5
