"""The core training loop (debiasbench.training) on the tiny test model: the numbers of the
pre-refactor loop pinned, the loss interface (custom losses, what a batch computes, references),
stopping rules, divergence, the info it records, LossMethod, and the example plugin's
third-party method run through the public loop."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from debiasbench import api  # noqa: E402
from debiasbench.errors import DebiasbenchError, TrainingDiverged  # noqa: E402
from debiasbench.plugin_system.interfaces import (  # noqa: E402
    ForgetText,
    SelectorContext,
    SpanSelector,
    UnlearnContext,
)
from debiasbench.plugin_system.loader import load_plugins  # noqa: E402
from debiasbench.plugin_system.options import build_options  # noqa: E402
from debiasbench.data.locator import DataLocator  # noqa: E402
from debiasbench.testing import tiny_model_handle  # noqa: E402
from debiasbench.training import loop, losses  # noqa: E402
from debiasbench.training.method import LossMethod  # noqa: E402
from debiasbench.training.objective import UnlearningLoss  # noqa: E402
from debiasbench.training.options import SelectiveOptions, TrainingOptions  # noqa: E402


from tests.forget_texts import FORGET, RETAIN  # noqa: E402
UNMARKED = ForgetText("Women are smart.", "gender", "women", None, "test")  # no span: the selector picks nothing


class DataSpans(SpanSelector):
    """The tokens overlapping the forget text's own spans (a test stand-in for ``annotated``)."""

    name = "test-spans"

    def select(self, items: Any, ctx: SelectorContext) -> list[list[bool]]:
        return [[end > start and any(start < e and end > s for s, e in it.item.spans or ()) for start, end in it.offsets]
                for it in items]


def _handle():
    return tiny_model_handle(seed=0, texts=[t.text for t in FORGET] + RETAIN)


def _ctx(forget=None, retain=None, on_step=None, seed: int = 0) -> UnlearnContext:
    registry = load_plugins(extra={}, entry_points=[]).registry
    return UnlearnContext(forget=FORGET if forget is None else forget, retain=RETAIN if retain is None else retain,
                          selector=DataSpans(), selector_ctx=SelectorContext(None, DataLocator(), registry, "gender"),
                          registry=registry, seed=seed, on_step=on_step or (lambda info: False))


def _train(loss: UnlearningLoss, handle=None, ctx=None, **options):
    handle = handle or _handle()
    defaults = {"batch_size": 4, "learning_rate": 3e-3}
    return handle, loop.train("test", handle, SelectiveOptions(**{**defaults, **options}), ctx or _ctx(), loss)


@dataclass
class Ascent(UnlearningLoss):
    """Plain selected-token gradient ascent, written as a third party would."""

    def forget(self, batch):
        return api.training.ga_loss(batch.logprobs(), batch.mask)


def _state(handle) -> dict[str, Any]:
    return {k: v.detach().clone() for k, v in handle.model.state_dict().items()}


# --------------------------------------------------------------------------- the pre-refactor numbers, pinned

# Recorded with debiasbench_unlearn/trainer.py before the loop moved to debiasbench.training: seed 3,
# learning_rate 3e-3, batch_size 5, max_steps 4, the 12 texts above and RETAIN. Per case: the
# forget losses, the retain losses, and sum |w| over all weights afterwards.
PINNED = {
    "mlm-unlearn": ([-5.71431065, -5.9344759, -5.97601318, -6.2149229],
                    None, 908.2252676959355),
    "token-ga": ([-5.71791315, -5.94786882, -6.08879852, -6.21964169],
                 None, 913.1960808944226),
    "grad-diff": ([-5.71431065, -5.9156127, -5.96609497, -6.18934011],
                  [5.738737106, 5.621340275, 5.578028679, 5.469434738], 909.1046096200055),
    "kl": ([-5.71431065, -5.9344759, -5.98022985, -6.21637106],
           [0.0, 0.003893392, 0.007835552, 0.007566147], 908.5245261771214),
    "npo": ([2.77258921, 1.99601042, 1.69558394, 1.23751867],
            None, 910.4127155718293),
    "mlm-unlearn+lora": ([-5.71431065, -5.72713566, -5.72889471, -5.79370594],
                         None, 877.5334766104666),
    "kl+lora": ([-5.71431065, -5.72713566, -5.72887325, -5.79847336],
                [0.0, 5.3044e-05, 0.000296322, 0.000982792], 877.4722582830168),
    "grad-diff+ppl": ([-5.71431065, -5.89662838, -5.94121075, -6.14467621],
                      [5.738737106, 5.55996418, 5.475967884, 5.332263947], 920.3268973453735),
}
CASE_OPTIONS = {
    "grad-diff": {"alpha": "0.5"}, "kl": {"alpha": "2"}, "npo": {"beta": "0.5"},
    "mlm-unlearn+lora": {"lora": "true", "learning_rate": "1e-2"}, "kl+lora": {"lora": "true", "learning_rate": "1e-2"},
    "grad-diff+ppl": {"retain_ppl_ceiling": "100", "retain_every": "2"},
}


@pytest.mark.parametrize("case", list(PINNED))
def test_the_refactored_loop_reproduces_the_pinned_losses_and_weights(case):
    pytest.importorskip("debiasbench_unlearn")
    if "lora" in case:
        pytest.importorskip("peft")
    from debiasbench_unlearn import methods_plugin, selectors_plugin

    registry = load_plugins(extra={"methods": methods_plugin, "selectors": selectors_plugin}, entry_points=[]).registry
    method = registry.get("method", case.split("+")[0])
    raw = {"learning_rate": "3e-3", "max_steps": "4", "batch_size": "5", **CASE_OPTIONS.get(case, {})}
    handle = _handle()
    ctx = UnlearnContext(forget=FORGET, retain=RETAIN, selector=None, selector_ctx=None, registry=registry, seed=3)
    outcome = method.unlearn(handle, build_options(method.Options, raw, case), ctx)
    forget, retain, weight_sum = PINNED[case]
    # float32 losses after a few steps differ by a few ulps between BLAS builds and thread counts
    # (seen: 3e-7 relative); a change to the loop's arithmetic moves them by orders of magnitude more
    assert [h.forget_loss for h in outcome.history] == pytest.approx(forget, rel=1e-5, abs=1e-6)
    if retain is not None:
        assert [h.retain_loss for h in outcome.history] == pytest.approx(retain, rel=1e-5, abs=1e-6)
    assert float(sum(p.double().abs().sum() for p in handle.model.state_dict().values())) == pytest.approx(weight_sum, rel=1e-6)
    if case == "grad-diff+ppl":
        assert outcome.info["retain_ppl_start"] == pytest.approx(310.67177815373, rel=1e-6)
        assert [h.extra.get("retain_ppl") for h in outcome.history][1::2] == pytest.approx([238.8816128, 189.2260442], rel=1e-6)


# --------------------------------------------------------------------------- the loss interface


def test_a_custom_loss_trains_and_each_batch_runs_the_model_once():
    """A loss may ask a batch for logits and log-probs as often as it likes; with the loop's own
    stopping measure that is still one forward pass per step."""

    @dataclass
    class Greedy(UnlearningLoss):
        def forget(self, batch):
            assert batch.kind == "forget" and batch.logprobs() is batch.logprobs() and batch.logits() is batch.logits()
            assert batch.mask.shape == batch.real.shape and not (batch.mask & ~batch.real).any()
            return api.training.ga_loss(batch.logprobs(), batch.mask)

    handle = _handle()
    calls = []
    handle.model.register_forward_hook(lambda module, args, output: calls.append(1))
    before = _state(handle)
    _, outcome = _train(Greedy(), handle, max_steps=3)
    assert outcome.steps == 3 and len(calls) == 3
    assert any(not torch.equal(before[k], v) for k, v in handle.model.state_dict().items())
    assert outcome.history[-1].extra["selected_logprob"] < outcome.history[0].extra["selected_logprob"]


def test_reference_logits_and_sequences_are_the_starting_model():
    seen: dict[str, list[float]] = {"kl": [], "gap": []}

    @dataclass
    class Anchored(UnlearningLoss):
        needs_reference = True
        needs_reference_sequences = True

        def forget(self, batch):
            seen["kl"].append(float(api.training.kl_loss(batch.logits().detach(), batch.reference_logits(), batch.real)))
            theta = api.training.sequence_logprob(batch.logprobs().detach(), batch.mask)
            seen["gap"].append(float((theta - batch.reference_sequence_logprobs()).abs().max()))
            return api.training.ga_loss(batch.logprobs(), batch.mask)

    _, outcome = _train(Anchored(), max_steps=3)
    assert seen["kl"][0] == pytest.approx(0.0, abs=1e-6) and seen["gap"][0] == pytest.approx(0.0, abs=1e-5)
    assert seen["kl"][-1] > 1e-4  # the trained model moved away from its frozen reference
    assert outcome.info["reference"] == "frozen copy" and outcome.info["reference_sequences"] is True


def test_a_loss_that_uses_the_reference_must_say_so():
    @dataclass
    class Undeclared(UnlearningLoss):
        def forget(self, batch):
            return api.training.kl_loss(batch.logits(), batch.reference_logits(), batch.mask)

    with pytest.raises(DebiasbenchError, match="set needs_reference = True"):
        _train(Undeclared(), max_steps=1)


def test_retain_term_gets_retain_batches_weighted_by_alpha():
    @dataclass
    class WithRetain(Ascent):
        needs_retain = True

        def retain(self, batch):
            assert batch.kind == "retain" and torch.equal(batch.mask, batch.real)
            assert set(batch.indices) <= set(range(len(RETAIN)))
            return api.training.nll_loss(batch.logprobs(), batch.mask)

    weights = []
    for alpha in (0.0, 5.0):
        handle, outcome = _train(WithRetain(alpha=alpha), max_steps=2)
        assert all(h.retain_loss is not None for h in outcome.history)
        weights.append(handle.model.lm_head.weight.detach().clone())
    assert not torch.equal(*weights)
    with pytest.raises(DebiasbenchError, match="needs retain text"):
        _train(WithRetain(), ctx=_ctx(retain=[]))


# --------------------------------------------------------------------------- stopping rules, divergence


def test_each_stopping_rule_and_its_reason():
    assert _train(Ascent(), max_steps=2)[1].stop_reason == "steps"
    _, epochs = _train(Ascent(), epochs=1)
    assert (epochs.steps, epochs.stop_reason) == (3, "epochs")
    assert _train(Ascent(), forget_loss_threshold=-0.5)[1].stop_reason == "forget-loss"
    _, callback = _train(Ascent(), ctx=_ctx(on_step=lambda info: info.step == 2))
    assert (callback.steps, callback.stop_reason) == (2, "callback")
    _, ceiling = _train(Ascent(), learning_rate=2e-2, retain_ppl_ceiling=1.01, retain_every=1)
    assert ceiling.stop_reason == "retain-ppl"
    assert ceiling.history[-1].extra["retain_ppl"] > 1.01 * ceiling.info["retain_ppl_start"]


@pytest.mark.parametrize("term", ["forget", "retain"])
def test_divergence_raises_and_leaves_the_weights_of_the_last_good_step(term):
    @dataclass
    class Poisoned(Ascent):
        needs_retain = True
        calls: int = 0

        def forget(self, batch):
            self.calls += 1
            value = super().forget(batch)
            return value * float("nan") if term == "forget" and self.calls == 3 else value

        def retain(self, batch):
            value = api.training.nll_loss(batch.logprobs(), batch.mask)
            return value * float("inf") if term == "retain" and self.calls == 3 else value

    handle = _handle()
    snapshot: dict[str, Any] = {}
    ctx = _ctx(on_step=lambda info: snapshot.update(_state(handle)) or False)
    with pytest.raises(TrainingDiverged, match=f"the {term} loss became (nan|inf) at step 3 .*before this step"):
        _train(Poisoned(), handle, ctx)
    for name, value in handle.model.state_dict().items():
        assert torch.equal(value, snapshot[name]), name
    assert not handle.model.training and all(p.grad is None for p in handle.model.parameters())


# --------------------------------------------------------------------------- what the loop records


def test_info_records_what_the_loop_knows():
    _, outcome = _train(Ascent(), ctx=_ctx(forget=[*FORGET, UNMARKED], retain=[]), max_steps=2,
                        retain_ppl_ceiling=50, retain_every=1)
    info = outcome.info
    assert info["texts_without_selection"] == 1 and info["forget_texts"] == len(FORGET)
    assert info["selector"] == "test-spans" and info["lora"] is False and info["method"] == "test"
    assert info["loss"] == "Ascent" and info["loss_parameters"] == {}  # no retain term: no alpha
    assert info["planned_steps"] == 2 and info["reference"] is None and info["reference_sequences"] is False
    assert info["seconds"] > 0 and 0 < info["seconds_per_step"] <= info["seconds"]
    assert info["retain_ppl_on"] == "unselected forget tokens"
    assert info["retain_ppl_start"] > 1 and info["retain_ppl_end"] == pytest.approx(outcome.history[-1].extra["retain_ppl"])
    assert 0 < outcome.selected_tokens < outcome.total_tokens
    assert {"selected_logprob", "grad_norm"} <= set(outcome.history[0].extra)


def test_select_all_takes_every_token_without_a_selector():
    class Everything(Ascent):
        select_all = True

    handle = _handle()
    ctx = _ctx()
    ctx.selector = None
    outcome = loop.train("test", handle, TrainingOptions(max_steps=1, batch_size=4), ctx, Everything())
    assert outcome.selected_tokens == outcome.total_tokens and outcome.info["selector"] is None


# --------------------------------------------------------------------------- LossMethod, the public API


def test_loss_method_builds_its_loss_from_the_options_and_runs_the_loop():
    @dataclass
    class Scaled(Ascent):
        needs_retain = True
        scale: float = 1.0

    @dataclass
    class ScaledOptions(SelectiveOptions):
        alpha: float = 0.25
        scale: float = 3.0

    class ScaledMethod(LossMethod):
        name = "scaled"
        Options = ScaledOptions
        Loss = Scaled

    method = ScaledMethod()
    assert method.needs_retain and method.loss(ScaledOptions()) == Scaled(alpha=0.25, scale=3.0)
    assert method.presets["quick"].options == {"epochs": 1, "learning_rate": 4e-5}  # lr x steps ~ the full protocol
    outcome = method.unlearn(_handle(), ScaledOptions(max_steps=1, batch_size=4), _ctx())
    assert outcome.steps == 1 and outcome.info["method"] == "scaled"
    assert outcome.info["loss_parameters"] == {"alpha": 0.25, "scale": 3.0}


def test_the_training_names_are_public_in_the_api():
    from debiasbench.training import batch, method, objective, options

    assert api.training.train is loop.train and api.training.UnlearningLoss is objective.UnlearningLoss and api.training.LossMethod is method.LossMethod
    assert api.training.TextBatch is batch.TextBatch and api.training.TrainingOptions is options.TrainingOptions
    assert api.training.SelectiveOptions is options.SelectiveOptions and api.training.npo_loss is losses.npo_loss
    assert {"train", "UnlearningLoss", "LossMethod", "TextBatch", "TrainingOptions", "ga_loss"} <= set(api.training.__all__)


def test_the_example_plugins_third_party_method_runs_through_the_public_loop(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "example_plugin"))
    from debiasbench_example_plugin import method as example

    registry = load_plugins(extra={"example": example}, entry_points=[]).registry
    floored = registry.get("method", "example-floored-ga")
    assert floored.needs_retain and "selector" in floored.Options.__dataclass_fields__
    handle = _handle()
    before = _state(handle)
    options = build_options(floored.Options, {"max_steps": "3", "batch_size": "4", "learning_rate": "3e-3", "floor": "-30"},
                            "method 'example-floored-ga'")
    outcome = floored.unlearn(handle, options, _ctx())
    assert (outcome.steps, outcome.stop_reason) == (3, "steps")
    assert all(h.retain_loss is not None for h in outcome.history)
    assert any(not torch.equal(before[k], v) for k, v in handle.model.state_dict().items())
    assert outcome.history[-1].extra["selected_logprob"] < outcome.history[0].extra["selected_logprob"]
    with pytest.raises(DebiasbenchError, match="floor is a log-probability"):
        build_options(floored.Options, {"floor": "1"}, "method 'example-floored-ga'")


def test_the_example_floor_stops_the_push_on_forgotten_texts(monkeypatch):
    """The example loss against hand-computed values: a text below the floor contributes the
    floor and no gradient; the others are plain selected-token means."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "example_plugin"))
    from debiasbench_example_plugin.method import FlooredAscentLoss

    lp = torch.tensor([[-1.0, -3.0, -7.0], [-20.0, -30.0, -1.0]], requires_grad=True)
    mask = torch.tensor([[True, True, False], [True, True, False]])
    value = FlooredAscentLoss(floor=-8.0).forget(SimpleNamespace(logprobs=lambda: lp, mask=mask))
    value.backward()
    assert float(value) == pytest.approx((-2.0 + -8.0) / 2)
    assert lp.grad.tolist() == [[0.25, 0.25, 0.0], [0.0, 0.0, 0.0]]


def test_an_every_token_loss_trains_on_exactly_the_texts_its_selective_counterpart_keeps():
    """token-ga vs mlm-unlearn: a text the selector selects nothing in is dropped by both (docs/concepts.md, "The seed study": the same texts)."""
    from debiasbench.training.data import prepare
    from debiasbench.training.options import EveryTokenOptions

    class EveryToken(Ascent):
        select_all = True

    registry = load_plugins(extra={"spans": SimpleNamespace(register_span_selectors=api.hookimpl(
        lambda register: register(DataSpans())))}, entry_points=[]).registry
    handle, texts = _handle(), [*FORGET[:3], UNMARKED]
    ctx = UnlearnContext(forget=texts, retain=[], selector=None, selector_ctx=SelectorContext(None, DataLocator(), registry, "gender"),
                         registry=registry)
    selective = prepare("selective", handle, SelectiveOptions(selector="test-spans"), ctx, Ascent())
    every = prepare("every", handle, EveryTokenOptions(texts_like="test-spans"), ctx, EveryToken())
    assert every.ids == selective.ids and len(every.ids) == 3 and every.dropped_texts == 1
    assert all(all(m) for m in every.masks) and not all(all(m) for m in selective.masks)
    everything = prepare("every", handle, EveryTokenOptions(texts_like="all"), ctx, EveryToken())
    assert len(everything.ids) == 4 and everything.dropped_texts == 0
