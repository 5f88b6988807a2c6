"""Unlearning methods of debiasbench-unlearn on the tiny test model: what they change, that each
first-step loss is the one of docs/concepts.md, "Unlearning methods", computed by hand, stopping rules and reasons, divergence,
determinism, options, progress and LoRA."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("debiasbench_unlearn")

from debiasbench_unlearn import methods_plugin, selectors_plugin  # noqa: E402
from debiasbench_unlearn.selection import spans_to_mask, tokenize_forget  # noqa: E402

from debiasbench.errors import DebiasbenchError, TrainingDiverged  # noqa: E402
from debiasbench.plugin_system.interfaces import ForgetText, StepInfo, UnlearnContext  # noqa: E402
from debiasbench.plugin_system.loader import load_plugins  # noqa: E402
from debiasbench.plugin_system.options import build_options  # noqa: E402
from debiasbench.testing import tiny_model_handle  # noqa: E402


from tests.forget_texts import FORGET, RETAIN  # noqa: E402


@pytest.fixture(scope="module")
def registry():
    return load_plugins(extra={"methods": methods_plugin, "selectors": selectors_plugin}, entry_points=[]).registry


def _handle(seed: int = 0):
    return tiny_model_handle(seed=seed, texts=[t.text for t in FORGET] + RETAIN)


def _run(registry, method: str, handle=None, retain=None, on_step=None, seed: int = 0, progress=None, **options):
    handle = handle or _handle()
    m = registry.get("method", method)
    ctx = UnlearnContext(forget=FORGET, retain=RETAIN if retain is None else retain, selector=None, selector_ctx=None,
                         registry=registry, seed=seed, on_step=on_step or (lambda info: False), progress=progress)
    return handle, m.unlearn(handle, build_options(m.Options, {k: str(v) for k, v in options.items()}, method), ctx)


def _hand_logprobs(handle, text: str) -> list[float]:
    """log P(t_i | p, t_<i) for each token of ``text``, from the model's logits with a manual log-softmax."""
    ids = handle.tokenizer(text, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = handle.model(input_ids=torch.tensor([[handle.prefix_token_id] + ids])).logits[0].tolist()
    return [row[t] - math.log(sum(math.exp(v) for v in row)) for row, t in zip(logits, ids)]


def _selected(handle, text_item: ForgetText) -> list[bool]:
    item = tokenize_forget(handle.tokenizer, [text_item])[0]
    return spans_to_mask(item.offsets, text_item.spans)


def _nll(handle) -> tuple[float, float]:
    """Mean NLL of the selected and of the unselected tokens over the forget texts."""
    selected, other = [], []
    for item in FORGET:
        for lp, chosen in zip(_hand_logprobs(handle, item.text), _selected(handle, item)):
            (selected if chosen else other).append(-lp)
    return sum(selected) / len(selected), sum(other) / len(other)


# --------------------------------------------------------------------------- effects


def test_mlm_unlearn_raises_selected_tokens_far_more_than_the_rest(registry):
    handle = _handle()
    before = _nll(handle)
    _, outcome = _run(registry, "mlm-unlearn", handle, learning_rate=3e-3, epochs=3, batch_size=4)
    after = _nll(handle)
    rise_selected, rise_other = after[0] - before[0], after[1] - before[1]
    assert outcome.stop_reason == "epochs" and outcome.steps == 9
    assert rise_selected > 0.5
    assert abs(rise_other) < 0.25 * rise_selected
    assert outcome.selected_tokens < outcome.total_tokens
    assert not handle.model.training


def test_token_ga_raises_every_token(registry):
    handle = _handle()
    before = _nll(handle)
    _, outcome = _run(registry, "token-ga", handle, learning_rate=3e-3, epochs=3, batch_size=4)
    after = _nll(handle)
    assert after[0] - before[0] > 0.5 and after[1] - before[1] > 0.5
    assert outcome.selected_tokens == outcome.total_tokens


# --------------------------------------------------------------------------- losses by hand


def _first_step(registry, method: str, **options) -> tuple[object, StepInfo]:
    handle = _handle()
    infos: list[StepInfo] = []
    _run(registry, method, handle, on_step=lambda info: infos.append(info) or False, max_steps=1,
         batch_size=len(FORGET), **options)
    return handle, infos[0]


def _expected_ga(select_all: bool = False) -> float:
    handle = _handle()  # the same weights as before the first step
    per_text = []
    for item in FORGET:
        lps = _hand_logprobs(handle, item.text)
        chosen = [True] * len(lps) if select_all else _selected(handle, item)
        picked = [lp for lp, c in zip(lps, chosen) if c]
        per_text.append(sum(picked) / len(picked))
    return sum(per_text) / len(per_text)


def test_mlm_unlearn_loss_is_mean_selected_logprob(registry):
    _, info = _first_step(registry, "mlm-unlearn")
    assert info.forget_loss == pytest.approx(_expected_ga(), abs=1e-4)
    assert info.extra["selected_logprob"] == pytest.approx(info.forget_loss)


def test_token_ga_loss_is_mean_logprob_of_every_token(registry):
    _, info = _first_step(registry, "token-ga")
    assert info.forget_loss == pytest.approx(_expected_ga(select_all=True), abs=1e-4)


def test_grad_diff_retain_term_is_retain_nll(registry):
    _, info = _first_step(registry, "grad-diff", alpha=0.5)
    handle = _handle()
    retain_lps = [lp for text in RETAIN for lp in _hand_logprobs(handle, text)]
    assert info.forget_loss == pytest.approx(_expected_ga(), abs=1e-4)
    assert info.retain_loss == pytest.approx(-sum(retain_lps) / len(retain_lps), abs=1e-4)


def test_kl_retain_term_is_zero_before_the_first_update(registry):
    _, info = _first_step(registry, "kl")
    assert info.forget_loss == pytest.approx(_expected_ga(), abs=1e-4)
    assert info.retain_loss == pytest.approx(0.0, abs=1e-6)


def test_npo_loss_starts_at_two_over_beta_log_two(registry):
    _, info = _first_step(registry, "npo", beta=0.5)
    assert info.forget_loss == pytest.approx(2 / 0.5 * math.log(2), abs=1e-5)
    assert info.extra["selected_logprob"] == pytest.approx(_expected_ga(), abs=1e-4)


def test_kl_and_npo_move_away_from_the_reference(registry):
    for method in ("kl", "npo"):
        infos: list[StepInfo] = []
        _run(registry, method, on_step=lambda info: infos.append(info) or False, learning_rate=3e-3, max_steps=4, batch_size=4)
        assert infos[-1].extra["selected_logprob"] < infos[0].extra["selected_logprob"]


# --------------------------------------------------------------------------- stopping rules


def test_stop_on_max_steps_and_on_epochs(registry):
    assert _run(registry, "mlm-unlearn", max_steps=2, batch_size=4)[1].stop_reason == "steps"
    _, outcome = _run(registry, "mlm-unlearn", epochs=1, batch_size=4)
    assert (outcome.steps, outcome.stop_reason) == (3, "epochs")
    assert [i.step for i in outcome.history] == [1, 2, 3] and {i.epoch for i in outcome.history} == {1}


def test_stop_on_forget_loss_threshold(registry):
    _, outcome = _run(registry, "mlm-unlearn", forget_loss_threshold=-0.5, batch_size=4)
    assert (outcome.steps, outcome.stop_reason) == (1, "forget-loss")


def test_stop_on_retain_perplexity_ceiling(registry):
    _, outcome = _run(registry, "mlm-unlearn", learning_rate=2e-2, retain_ppl_ceiling=1.01, retain_every=1, batch_size=4)
    assert outcome.stop_reason == "retain-ppl"
    assert outcome.history[-1].extra["retain_ppl"] > 1.01 * outcome.info["retain_ppl_start"]
    assert outcome.info["retain_ppl_on"] == "retain text"
    _, fallback = _run(registry, "mlm-unlearn", retain=[], max_steps=1, retain_ppl_ceiling=2, retain_every=1)
    assert fallback.info["retain_ppl_on"] == "unselected forget tokens"
    with pytest.raises(DebiasbenchError, match="retain_ppl_ceiling needs retain text or unselected tokens"):
        _run(registry, "token-ga", retain=[], retain_ppl_ceiling=2)


def test_stop_when_the_callback_asks(registry):
    seen: list[int] = []
    _, outcome = _run(registry, "mlm-unlearn", on_step=lambda info: seen.append(info.step) or info.step == 2, batch_size=4)
    assert (outcome.steps, outcome.stop_reason, seen) == (2, "callback", [1, 2])


def test_methods_with_retain_term_need_retain_text(registry):
    assert registry.get("method", "grad-diff").needs_retain and registry.get("method", "kl").needs_retain
    assert not registry.get("method", "mlm-unlearn").needs_retain
    with pytest.raises(DebiasbenchError, match="needs retain text"):
        _run(registry, "grad-diff", retain=[])


# --------------------------------------------------------------------------- divergence, determinism


def test_nan_loss_raises_training_diverged_and_keeps_pre_step_weights(registry):
    handle = _handle()
    calls = {"n": 0}

    def poison(module, args, output):
        calls["n"] += 1
        return output * float("nan") if calls["n"] == 3 else output

    handle.model.lm_head.register_forward_hook(poison)
    snapshot: dict[str, torch.Tensor] = {}

    def remember(info: StepInfo) -> bool:
        snapshot.update({k: v.detach().clone() for k, v in handle.model.state_dict().items()})
        return False

    with pytest.raises(TrainingDiverged, match="forget loss became nan at step 3 .*before this step"):
        _run(registry, "mlm-unlearn", handle, on_step=remember, batch_size=4, learning_rate=1e-2)
    for name, value in handle.model.state_dict().items():
        assert torch.equal(value, snapshot[name]), name
    assert not handle.model.training


def test_same_seed_same_weights_other_seed_other_weights(registry):
    runs = [_run(registry, "mlm-unlearn", seed=s, max_steps=3, batch_size=4, learning_rate=3e-3)[0] for s in (0, 0, 1)]
    states = [r.model.state_dict() for r in runs]
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert not all(torch.equal(states[0][k], states[2][k]) for k in states[0])


# --------------------------------------------------------------------------- options, progress, LoRA, flags


@pytest.mark.parametrize(("key", "value", "message"), [
    ("learning_rate", "-1", "learning_rate must be positive"),
    ("forget_loss_threshold", "2", "must be negative"),
    ("retain_ppl_ceiling", "0.5", "must exceed 1"),
    ("batch_size", "0", "batch_size must be 1 or more"),
])
def test_option_ranges_are_validated(registry, key, value, message):
    with pytest.raises(DebiasbenchError, match=message):
        build_options(registry.get("method", "mlm-unlearn").Options, {key: value}, "method 'mlm-unlearn'")
    with pytest.raises(DebiasbenchError, match="beta must be positive"):
        build_options(registry.get("method", "npo").Options, {"beta": "0"}, "method 'npo'")


def test_token_ga_takes_no_selector_and_mlm_unlearn_defaults_to_annotated(registry):
    assert "selector" not in registry.get("method", "token-ga").Options.__dataclass_fields__
    assert registry.get("method", "mlm-unlearn").Options().selector is None  # None: the registry's default selector
    assert registry.default("selector").name == "annotated"


def test_progress_bar_shows_losses(registry):
    calls: list[tuple] = []

    class Bar:
        def advance(self, n=1, **fields):
            calls.append(("advance", n, tuple(fields)))

    class Progress:
        def __init__(self, description, total=None):
            calls.append(("open", description, total))

        def __enter__(self):
            return Bar()

        def __exit__(self, *exc):
            return False

    _run(registry, "grad-diff", progress=Progress, max_steps=2, batch_size=4)
    assert calls[0] == ("open", "unlearning", 2)
    assert calls[1] == ("advance", 1, ("forget", "retain"))


def test_requires_grad_flags_and_eval_mode_are_restored(registry):
    handle = _handle()
    handle.model.transformer.wpe.weight.requires_grad_(False)
    before = handle.model.transformer.wpe.weight.detach().clone()
    _run(registry, "mlm-unlearn", handle, max_steps=2, batch_size=4, learning_rate=1e-2)
    assert not handle.model.transformer.wpe.weight.requires_grad
    assert handle.model.transformer.h[0].attn.c_attn.weight.requires_grad
    assert not torch.equal(before, handle.model.transformer.wpe.weight)  # trained while unlearning
    assert not handle.model.training


def test_lora_trains_adapters_and_merges_them(registry):
    pytest.importorskip("peft")
    handle = _handle()
    original = type(handle.model)
    before = {k: v.clone() for k, v in handle.model.state_dict().items()}
    _, outcome = _run(registry, "mlm-unlearn", handle, lora=True, max_steps=3, batch_size=4, learning_rate=1e-2)
    assert type(handle.model) is original and outcome.info["lora"] is True
    after = handle.model.state_dict()
    assert set(after) == set(before)
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed and all("c_attn" in k for k in changed)  # peft's default target for GPT-2
