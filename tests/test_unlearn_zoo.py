"""The method zoo of debiasbench-unlearn (simnpo, rmu, wga, satimp, undial, dpo, task-vector, ceu, pdu, altpo): each
loss against numbers computed by hand (plain ``math`` on small known values, or the model's own
outputs read another way), each method trained a few steps on the tiny model, the one-line
errors, and (slow) each method through the CLI on the embedded model."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("debiasbench_unlearn")

from debiasbench_unlearn import methods_plugin, selectors_plugin
from debiasbench_unlearn.methods.activations import layer_states, reference_layer_states
from debiasbench_unlearn.methods.dpo import dpo_loss
from debiasbench_unlearn.methods.preferred import PreferredSide, counterfactual_pairs
from debiasbench_unlearn.methods.rmu import activation_loss, control_vector
from debiasbench_unlearn.methods.satimp import satimp_loss
from debiasbench_unlearn.methods.simnpo import SimNPOLoss, simnpo_loss
from debiasbench_unlearn.methods.task_vector import SelectedNLL, negate
from debiasbench_unlearn.methods.undial import undial_loss
from debiasbench_unlearn.methods.wga import wga_loss
from debiasbench_unlearn.methods_plugin import ZOO

from debiasbench import api
from debiasbench.errors import DebiasbenchError
from debiasbench.plugin_system.interfaces import ForgetText, UnlearnContext
from debiasbench.plugin_system.loader import load_plugins
from debiasbench.plugin_system.options import build_options
from debiasbench.testing import tiny_model_handle
from debiasbench.training.batch import make_batch
from debiasbench.training.reference import Reference


from tests.forget_texts import FORGET, RETAIN  # noqa: E402
from tests.run_checks import assert_smoke_run  # noqa: E402

NO_TERM = ForgetText("They are awful people.", "gender", "women", ((9, 14),), "test")  # nothing to swap

# two texts of three predicted tokens: log-probabilities and the selected positions
LP = [[-1.0, -2.0, -0.25], [-0.5, -3.0, -1.5]]
MASK = [[True, True, False], [False, True, True]]


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


@pytest.fixture(scope="module")
def registry():
    return load_plugins(extra={"methods": methods_plugin, "selectors": selectors_plugin}, entry_points=[]).registry


def _handle(seed: int = 0):
    return tiny_model_handle(seed=seed, texts=[t.text for t in FORGET + [NO_TERM]] + RETAIN)


def _ctx(registry, forget=None, retain=None, seed: int = 0) -> UnlearnContext:
    return UnlearnContext(forget=FORGET if forget is None else forget, retain=RETAIN if retain is None else retain,
                          selector=None, selector_ctx=None, registry=registry, seed=seed)


def _run(registry, name: str, handle=None, forget=None, retain=None, **options):
    handle = handle or _handle()
    method = registry.get("method", name)
    opts = build_options(method.Options, {"learning_rate": "3e-3", "batch_size": "4", **{k: str(v) for k, v in options.items()}}, name)
    return handle, method.unlearn(handle, opts, _ctx(registry, forget, retain))


def _state(handle) -> dict:
    return {k: v.detach().clone() for k, v in handle.model.state_dict().items()}


def _batch(handle, texts: list[str], keep_reference: bool = False):
    ids = [handle.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    ref = Reference(handle.model, False, "test", keep_model=keep_reference)
    return make_batch("forget", ids, None, list(range(len(ids))), handle.model, ref, handle.prefix_token_id, "cpu"), ids


# --------------------------------------------------------------------------- the losses, by hand


def test_simnpo_is_length_normalised_npo_with_margin():
    beta, gamma = 2.0, 0.5
    # text 1: tokens 0, 1 selected (log p(y) = -3, |y| = 2); text 2: tokens 1, 2 (-4.5, 2)
    per_text = [-(2 / beta) * math.log(_sigmoid(-(beta / 2) * s - gamma)) for s in (-3.0, -4.5)]
    got = simnpo_loss(torch.tensor(LP), torch.tensor(MASK), beta, gamma)
    assert float(got) == pytest.approx(sum(per_text) / 2, abs=1e-6)
    loss = SimNPOLoss(beta=beta, gamma=gamma, forget_weight=0.125)
    batch = SimpleNamespace(logprobs=lambda: torch.tensor(LP), mask=torch.tensor(MASK))
    assert float(loss.forget(batch)) == pytest.approx(0.125 * sum(per_text) / 2, abs=1e-6)


def test_wga_weights_each_selected_token_by_its_detached_probability():
    beta = 0.5
    picked = [(-1.0), (-2.0), (-3.0), (-1.5)]
    expected = sum(math.exp(v) ** beta * v for v in picked) / 4
    lp = torch.tensor(LP, requires_grad=True)
    got = wga_loss(lp, torch.tensor(MASK), beta)
    assert float(got.detach()) == pytest.approx(expected, abs=1e-6)
    got.backward()  # the weight is a constant: d/d lp_i = w_i / |M| on selected tokens, 0 elsewhere
    want = [[math.exp(v) ** beta / 4 if m else 0.0 for v, m in zip(row, mrow)] for row, mrow in zip(LP, MASK)]
    assert lp.grad.tolist() == [pytest.approx(r, abs=1e-6) for r in want]


def test_satimp_weights_by_saturation_times_importance():
    b1, b2 = 2.0, 3.0
    picked = [-1.0, -2.0, -3.0, -1.5]
    expected = sum(math.exp(v) ** b1 * (1 - math.exp(v)) ** b2 * v for v in picked) / 4
    lp = torch.tensor(LP, requires_grad=True)
    got = satimp_loss(lp, torch.tensor(MASK), b1, b2)
    assert float(got.detach()) == pytest.approx(expected, abs=1e-6)
    got.backward()
    w = math.exp(-3.0) ** b1 * (1 - math.exp(-3.0)) ** b2 / 4
    assert float(lp.grad[1, 1]) == pytest.approx(w, abs=1e-7) and float(lp.grad[0, 2]) == 0.0


def test_undial_distils_toward_the_teacher_with_the_target_logit_lowered():
    beta = 3.0
    student = [[[0.5, 1.0, -1.0], [2.0, 0.0, 0.5]]]
    teacher = [[[1.0, 2.0, 0.0], [0.0, 1.0, 1.0]]]
    ids = [[0, 1, 2]]  # prefix, then targets 1 and 2
    mask = [[True, True]]

    def softmax(v):
        z = sum(math.exp(x) for x in v)
        return [math.exp(x) / z for x in v]

    total = 0.0
    for i, target in enumerate(ids[0][1:]):
        adjusted = [v - (beta if k == target else 0.0) for k, v in enumerate(teacher[0][i])]
        q, p = softmax(adjusted), softmax(student[0][i])
        total += -sum(qk * math.log(pk) for qk, pk in zip(q, p))
    got = undial_loss(torch.tensor(student), torch.tensor(teacher), torch.tensor(ids), torch.tensor(mask), beta)
    assert float(got) == pytest.approx(total / 2, abs=1e-6)
    only_second = undial_loss(torch.tensor(student), torch.tensor(teacher), torch.tensor(ids), torch.tensor([[False, True]]), beta)
    q, p = softmax([0.0, 1.0, 1.0 - beta]), softmax([2.0, 0.0, 0.5])
    assert float(only_second) == pytest.approx(-sum(a * math.log(b) for a, b in zip(q, p)), abs=1e-6)


def test_rmu_activation_loss_and_control_vector():
    h = torch.tensor([[[1.0, 2.0], [0.0, 0.0], [3.0, -1.0]]])  # one text, three positions, d = 2
    target = torch.tensor([[[0.0, 1.0], [5.0, 5.0], [1.0, 1.0]]])
    mask = torch.tensor([[True, False, True]])
    expected = (((1 - 0) ** 2 + (2 - 1) ** 2) / 2 + ((3 - 1) ** 2 + (-1 - 1) ** 2) / 2) / 2
    assert float(activation_loss(h, target, mask)) == pytest.approx(expected, abs=1e-6)
    u = control_vector(16, seed=3, steering_coeff=2.5)
    assert float(u.norm()) == pytest.approx(2.5, abs=1e-5) and bool((u >= 0).all())
    assert torch.equal(u, control_vector(16, seed=3, steering_coeff=2.5))
    assert not torch.equal(u, control_vector(16, seed=4, steering_coeff=2.5))


def test_dpo_loss_matches_formula():
    beta = 0.5
    win, win_ref, lose, lose_ref = [-3.0, -2.0], [-4.0, -2.5], [-1.0, -6.0], [-2.0, -5.0]
    expected = sum(-math.log(_sigmoid(beta * ((w - wr) - (l - lr))))
                   for w, wr, l, lr in zip(win, win_ref, lose, lose_ref)) / 2
    got = dpo_loss(*(torch.tensor(v) for v in (win, win_ref, lose, lose_ref)), beta)
    assert float(got) == pytest.approx(expected, abs=1e-6)


def test_negate_subtracts_the_scaled_task_vector():
    model, tuned = torch.nn.Linear(2, 1, bias=False), torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 2.0]]))
        tuned.weight.copy_(torch.tensor([[1.5, 1.0]]))
    norm = negate(model, tuned, 0.5)
    assert model.weight.tolist() == [[0.75, 2.5]]  # 1 - 0.5 * 0.5, 2 - 0.5 * (-1)
    assert norm == pytest.approx(math.sqrt(0.25 + 1.0))


# --------------------------------------------------------------------------- the losses on the tiny model


def test_layer_states_are_the_blocks_output_and_rmu_targets_them():
    handle = _handle()
    batch, _ = _batch(handle, RETAIN, keep_reference=True)
    with torch.no_grad():
        hidden = handle.model(input_ids=batch.ids, attention_mask=batch.attention_mask, output_hidden_states=True).hidden_states
    got = layer_states(batch, 0)  # block 0's output = hidden_states[1] (hidden_states[0] = embeddings)
    assert torch.allclose(got, hidden[1][:, 1:], atol=1e-6) and got.requires_grad
    assert torch.allclose(reference_layer_states(batch, 0), hidden[1][:, 1:], atol=1e-6)
    registry = load_plugins(extra={"methods": methods_plugin}, entry_points=[]).registry
    loss = registry.get("method", "rmu").loss(build_options(registry.get("method", "rmu").Options, {"layer": "0"}, "rmu"))
    fresh, _ = _batch(handle, RETAIN)
    target = control_vector(hidden[1].shape[-1], 0, 2.0)
    h, m = hidden[1][:, 1:], batch.mask
    per_text = [((h[b][m[b]] - target) ** 2).mean(dim=-1).sum() / m[b].sum() for b in range(len(RETAIN))]
    assert float(loss.forget(fresh).detach()) == pytest.approx(float(sum(per_text) / len(RETAIN)), abs=1e-5)


def test_dpo_forget_term_on_the_tiny_model_matches_hand_logprobs():
    handle = _handle()
    texts, preferred = [FORGET[0].text, FORGET[5].text], ["The men are awful people.", "Boys play football."]
    batch, _ = _batch(handle, texts)

    def hand_logprob(text: str) -> float:
        tokens = handle.tokenizer(text, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = handle.model(input_ids=torch.tensor([[0] + tokens])).logits[0].tolist()
        return sum(row[t] - math.log(sum(math.exp(v) for v in row)) for row, t in zip(logits, tokens))

    side = PreferredSide.build(handle, [FORGET[0], FORGET[5]], preferred, 127, 4)
    assert side.reference.tolist() == pytest.approx([hand_logprob(t) for t in preferred], abs=1e-4)
    side.reference = torch.tensor([-30.0, -20.0])  # a reference other than the model, so the term is not log 2
    lose_ref = [-25.0, -22.0]
    batch.reference.sequences = torch.tensor(lose_ref)
    win, _ = side.logprobs(batch, side.rows(batch))
    got = dpo_loss(win, side.reference, api.training.sequence_logprob(batch.logprobs(), batch.mask), batch.reference_sequence_logprobs(), 0.1)
    expected = sum(-math.log(_sigmoid(0.1 * ((hand_logprob(w) - wr) - (hand_logprob(l) - lr))))
                   for w, wr, l, lr in zip(preferred, (-30.0, -20.0), texts, lose_ref)) / 2
    assert float(got.detach()) == pytest.approx(expected, abs=1e-4)


def test_counterfactual_pairs_swap_the_group_and_drop_texts_without_one():
    kept, preferred = counterfactual_pairs([FORGET[0], NO_TERM, FORGET[4]], seed=0)
    assert kept == [FORGET[0], FORGET[4]]
    assert preferred == ["The men are awful people.", "The boys are awful people."]


# --------------------------------------------------------------------------- the methods, a few steps each

ZOO_NAMES = [m.name for m in ZOO if m.name not in ("biasunlearn", "pcgu")]  # pair-trained: test_unlearn_bias_methods.py


@pytest.mark.parametrize("name", ZOO_NAMES)
def test_each_method_trains_and_changes_the_weights(registry, name):
    handle = _handle()
    before = _state(handle)
    handle, outcome = _run(registry, name, handle=handle, max_steps=2, **({"layer": 1} if name == "rmu" else {}))
    assert (outcome.steps, outcome.stop_reason) == (2, "steps")
    assert all(math.isfinite(h.forget_loss) for h in outcome.history)
    after = _state(handle)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert not handle.model.training and all(p.grad is None for p in handle.model.parameters())
    assert outcome.info["method"] == name


@pytest.mark.parametrize("name", ["simnpo", "wga", "satimp", "rmu", "undial", "task-vector"])
def test_per_token_methods_use_the_span_selector(registry, name):
    unmarked = ForgetText("Women are smart.", "gender", "women", None, "test")  # annotated selects nothing here
    _, outcome = _run(registry, name, forget=FORGET + [unmarked], max_steps=1, **({"layer": 0} if name == "rmu" else {}))
    assert outcome.info["texts_without_selection"] == 1  # the default selector (annotated) found no span in it
    assert 0 < outcome.selected_tokens < outcome.total_tokens


def test_alpha_zero_drops_the_retain_term(registry):
    _, outcome = _run(registry, "simnpo", retain=[], alpha=0, max_steps=2)
    assert all(h.retain_loss is None for h in outcome.history) and "retain_texts" not in outcome.info
    _, with_retain = _run(registry, "simnpo", max_steps=2)
    assert all(h.retain_loss is not None for h in with_retain.history) and with_retain.info["retain_texts"] == 3


def test_simnpo_first_step_loss_is_the_formula_on_the_starting_model(registry):
    handle = _handle()
    reference = copy.deepcopy(handle)
    _, outcome = _run(registry, "simnpo", handle=handle, max_steps=1, batch_size=12, alpha=0, beta=2, gamma=0.5)
    per_text = []
    for item in FORGET:  # one batch holds all 12 texts, so the first step sees each once
        tokens = reference.tokenizer(item.text, add_special_tokens=False, return_offsets_mapping=True)
        with torch.no_grad():
            logits = reference.model(input_ids=torch.tensor([[0] + tokens["input_ids"]])).logits[0, :-1]
        lp = torch.log_softmax(logits, -1).gather(-1, torch.tensor(tokens["input_ids"])[:, None])[:, 0].tolist()
        (s, e), = item.spans
        chosen = [v for v, (a, b) in zip(lp, tokens["offset_mapping"]) if a < e and b > s and b > a]
        per_text.append(-(2 / 2) * math.log(_sigmoid(-(2 / len(chosen)) * sum(chosen) - 0.5)))
    assert outcome.history[0].forget_loss == pytest.approx(0.125 * sum(per_text) / len(per_text), abs=1e-5)


def test_task_vector_moves_the_weights_opposite_to_fine_tuning(registry):
    handle = _handle()
    start = _state(handle)
    tuned = copy.deepcopy(handle)
    opts = build_options(registry.get("method", "task-vector").Options, {"learning_rate": "3e-3", "batch_size": "4", "max_steps": "3"}, "tv")
    api.training.train("task-vector", tuned, opts, _ctx(registry), SelectedNLL())  # the same fine-tuning, by hand
    _, outcome = _run(registry, "task-vector", handle=handle, max_steps=3, scale=0.5)
    after, ft = _state(handle), _state(tuned)
    for name in start:
        assert torch.allclose(after[name] - start[name], -0.5 * (ft[name] - start[name]), atol=1e-6), name
    assert outcome.steps == 3 and outcome.info["task_vector_scale"] == 0.5 and outcome.info["task_vector_norm"] > 0
    assert outcome.history[-1].forget_loss < outcome.history[0].forget_loss  # the copy's NLL went down


def test_rmu_rejects_a_layer_beyond_the_model_with_one_line(registry):
    with pytest.raises(DebiasbenchError, match=r"layer=2 is beyond the model, which has 2 decoder layers") as info:
        _run(registry, "rmu", layer=2, max_steps=1)
    assert "\n" not in str(info.value)
    method = registry.get("method", "rmu")  # the same line from the hook the orchestrator calls right after loading
    with pytest.raises(DebiasbenchError, match=r"layer=2 is beyond the model"):
        method.check_model(build_options(method.Options, {"layer": "2"}, "rmu"), _handle())
    method.check_model(build_options(method.Options, {"layer": "1"}, "rmu"), _handle())


def test_the_orchestrator_checks_the_model_before_evaluating(monkeypatch):
    """``check_model`` runs after the model loads and before the first metric is evaluated."""
    from debiasbench.run import execute as ex

    order = []
    plan = type("P", (), {})()
    plan.config = type("C", (), {"data_dir": None, "cache_dir": None, "threads": None, "device": "cpu", "dtype": "float32",
                                 "trust_remote_code": False, "seed": 0, "device_map": None,
                                 "gradient_checkpointing": False, "lora_threshold": 1e9, "full_finetune": False,
                                 "method_options": {}, "preset": "full", "relearn_steps": 0})()
    plan.model, plan.registry, plan.forget_set, plan.metrics = "tiny", None, None, []
    plan.method = type("M", (), {"check_model": lambda self, o, h: order.append("check") or (_ for _ in ()).throw(DebiasbenchError("no"))})()
    plan.method_options = None
    monkeypatch.setattr(ex, "find_provider", lambda *a: type("Prov", (), {"name": "fake", "load": lambda self, *a: order.append("load") or _handle()})())
    monkeypatch.setattr(ex, "evaluate", lambda *a, **k: order.append("evaluate"))
    monkeypatch.setattr(ex, "new_run_id", lambda plan: "run")
    with pytest.raises(DebiasbenchError, match="no"):
        ex.execute(plan)
    assert order == ["load", "check"]


def test_dpo_neutral_needs_retain_text_with_one_line(registry):
    with pytest.raises(DebiasbenchError, match="preferred=neutral pairs each forget text with a retain text") as info:
        _run(registry, "dpo", preferred="neutral", retain=[], alpha=0, max_steps=1)
    assert "\n" not in str(info.value)
    _, outcome = _run(registry, "dpo", preferred="neutral", max_steps=2)
    assert outcome.info["dpo_preferred"] == "neutral" and outcome.info["dpo_unpaired_texts"] == 0


def test_dpo_counts_texts_without_a_swap_and_starts_at_log_two(registry):
    _, outcome = _run(registry, "dpo", forget=FORGET + [NO_TERM], alpha=0, retain=[], max_steps=1, batch_size=13)
    assert outcome.info["dpo_unpaired_texts"] == 1 and outcome.info["forget_texts"] == 12
    assert outcome.history[0].forget_loss == pytest.approx(math.log(2), abs=1e-5)  # theta == ref at the first step


def test_options_are_validated(registry):
    for name, key, value in (("simnpo", "beta", "0"), ("wga", "alpha", "-1"), ("satimp", "beta1", "-1"),
                             ("rmu", "layer", "-1"), ("undial", "beta", "0"), ("dpo", "preferred", "other"),
                             ("task-vector", "scale", "0"), ("ceu", "ignore_first", "-1"), ("pdu", "gamma", "0"),
                             ("altpo", "prompt_fraction", "1"), ("biasunlearn", "ster_weight", "0"), ("pcgu", "k", "0")):
        with pytest.raises(DebiasbenchError):
            build_options(registry.get("method", name).Options, {key: value}, f"method {name!r}")


def test_quick_presets_train_one_epoch(registry):
    for name in ZOO_NAMES:
        assert registry.get("method", name).presets["quick"].options["epochs"] == 1


# --------------------------------------------------------------------------- slow: the CLI on the embedded model


LONG = {"altpo": "generates alternate answers with the model", "dpo": "generates rejected answers"}
"""Methods whose embedded CLI run takes over 30 s: a ``full`` test (their losses run on the tiny model every time)."""


@pytest.mark.slow
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.full) if n in LONG else n for n in ZOO_NAMES])
def test_each_method_runs_on_the_embedded_model_through_the_cli(name, data_dir: Path, tmp_path: Path):
    pytest.importorskip("debiasbench_hf")
    from typer.testing import CliRunner

    from debiasbench.cli import app

    result = CliRunner().invoke(app, [
        "run", "--method", name, "--model", "smollm2-135m-q4", "--domain", "gender", "--preset", "quick",
        "-o", "max_steps=2", "--metrics", "crows-pairs", "--eval-limit", "10", "--results-dir", str(tmp_path),
        "--data-dir", str(data_dir), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert any(tmp_path.rglob("*.parquet"))
    run = assert_smoke_run(tmp_path, name, limit=10)  # the rows it wrote: before and after, 10 pairs a domain, scores in 0-100
    assert 0 < run["steps"] <= 2  # max_steps=2
