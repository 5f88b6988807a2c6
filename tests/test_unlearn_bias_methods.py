"""The issue-28 methods of the zoo: BiasUnlearn and PCGU (trained on sentence pairs) and open-unlearning's
CE-U, PDU and AltPO. Each loss (or PCGU's partitioned update) against numbers computed by hand with
plain ``math``; the pair methods trained a few steps on the tiny model; the one-line errors; and
(slow) each through the CLI on the embedded model. CE-U, PDU and AltPO also run in
``test_unlearn_zoo.py``'s per-method training test."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("debiasbench_unlearn")

from debiasbench_unlearn import methods_plugin, selectors_plugin
from debiasbench_unlearn.methods.altpo import split_prompt
from debiasbench_unlearn.methods.biasunlearn import BiasUnlearnLoss, batch_npo, text_nll
from debiasbench_unlearn.methods.ceu import ceu_loss, without_first
from debiasbench_unlearn.methods.partition import MISSING_SIMILARITY, Partition, update_gradients
from debiasbench_unlearn.methods.pcgu import check_k, trainable_named
from debiasbench_unlearn.methods.pdu import PDULoss, dual_update, flattening_loss

from debiasbench.api import RunFacts
from debiasbench.api.data import DataLocator
from debiasbench.errors import DebiasbenchError
from debiasbench.plugin_system.interfaces import UnlearnContext
from debiasbench.plugin_system.loader import load_plugins
from debiasbench.plugin_system.options import build_options
from debiasbench.testing import tiny_model_handle

from tests.forget_texts import FORGET, RETAIN  # noqa: E402

LP = [[-1.0, -2.0, -0.25], [-0.5, -3.0, -1.5]]
MASK = [[True, True, False], [False, True, True]]
SWAPPED_WORDS = "men boys guys gentlemen lords him his he"


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


@pytest.fixture(scope="module")
def registry():
    return load_plugins(extra={"methods": methods_plugin, "selectors": selectors_plugin}, entry_points=[]).registry


# --------------------------------------------------------------------------- the losses, by hand


def test_biasunlearn_npo_is_on_the_batch_mean_log_ratio():
    lp, ref, mask = torch.tensor(LP), torch.tensor(LP) + 0.3, torch.tensor(MASK)
    nll = [(1.0 + 2.0) / 2, (3.0 + 1.5) / 2]  # token-mean NLL of each text over its mask
    assert text_nll(lp, mask).tolist() == pytest.approx(nll)
    beta = 0.1
    expected = -(2 / beta) * math.log(_sigmoid(beta * ((sum(nll) / 2) - (sum(nll) / 2 - 0.3))))
    assert float(batch_npo(text_nll(lp, mask), text_nll(ref, mask), beta)) == pytest.approx(expected, abs=1e-6)
    batch = SimpleNamespace(logprobs=lambda: lp, reference_logprobs=lambda: ref, mask=mask)
    loss = BiasUnlearnLoss(beta=beta, ster_weight=0.5, anti_weight=0.3, kl_weight=0.0)
    assert float(loss.forget(batch)) == pytest.approx(0.5 * expected, abs=1e-6)  # NPO on the stereotyped side
    assert float(loss.retain(batch)) == pytest.approx(0.3 * sum(nll) / 2, abs=1e-6)  # NLL on the anti side
    loss.swapped = True  # the bias reversed: the roles swap
    assert float(loss.forget(batch)) == pytest.approx(0.3 * sum(nll) / 2, abs=1e-6)
    assert float(loss.retain(batch)) == pytest.approx(0.5 * expected, abs=1e-6)


def test_biasunlearn_retain_adds_the_kl_to_the_reference():
    logits = torch.tensor([[[1.0, 2.0, 0.5]]])
    ref_logits = torch.tensor([[[0.0, 0.0, 0.0]]])
    lp = torch.log_softmax(logits, -1)[..., 1]  # the true next token is 1
    mask = torch.tensor([[True]])
    p_ref = [1 / 3] * 3
    log_theta = torch.log_softmax(logits[0, 0], -1).tolist()
    kl = sum(p * (math.log(p) - lt) for p, lt in zip(p_ref, log_theta))
    batch = SimpleNamespace(logprobs=lambda: lp, logits=lambda: logits, reference_logits=lambda: ref_logits, mask=mask)
    got = BiasUnlearnLoss(anti_weight=0.3, kl_weight=0.2).retain(batch)
    assert float(got) == pytest.approx(0.3 * -log_theta[1] + 0.2 * kl, abs=1e-6)


def test_pcgu_updates_only_the_k_least_similar_blocks():
    named = [("w", torch.zeros(2, 3)), ("b", torch.zeros(2)), ("frozen", torch.zeros(2))]
    part = Partition.of(named)
    assert (part.rows, part.size) == ([2, 1, 1], 4)
    adv = {"w": torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]), "b": torch.tensor([1.0, 1.0]), "frozen": None}
    dis = {"w": torch.tensor([[-1.0, 0, 0], [0, 2.0, 0]]), "b": torch.tensor([1.0, -1.0]), "frozen": torch.ones(2)}
    # cosines by hand: row 0 -> -1, row 1 -> 1, b -> (1 - 1) / (sqrt2 sqrt2) = 0, frozen (no advantaged gradient) -> 5
    assert part.similarities(adv, dis).tolist() == pytest.approx([-1.0, 1.0, 0.0, MISSING_SIMILARITY])
    two = update_gradients(part, adv, dis, 2)  # row 0 of w and b: the advantaged gradient there, zero elsewhere
    assert two["w"].tolist() == [[1.0, 0, 0], [0, 0, 0]] and two["b"].tolist() == [1.0, 1.0]
    one = update_gradients(part, adv, dis, 1)
    assert one["w"].tolist() == [[1.0, 0, 0], [0, 0, 0]] and one["b"].tolist() == [0.0, 0.0]


def test_ceu_is_cross_entropy_to_the_distribution_without_the_true_token():
    logits = torch.tensor([[[1.0, 2.0, 0.5], [9.0, 0.0, 0.0]]])
    targets = torch.tensor([[1, 0]])
    mask = torch.tensor([[True, False]])  # the second position is not counted
    z = [1.0, 2.0, 0.5]
    log_p = [v - math.log(sum(math.exp(u) for u in z)) for v in z]
    q0, q2 = math.exp(1.0) / (math.exp(1.0) + math.exp(0.5)), math.exp(0.5) / (math.exp(1.0) + math.exp(0.5))
    assert float(ceu_loss(logits, targets, mask)) == pytest.approx(-(q0 * log_p[0] + q2 * log_p[2]), abs=1e-6)
    assert without_first(torch.tensor([[True, True, True], [False, True, True]]), 1).tolist() == [[False, True, True], [False, True, True]]


def test_pdu_flattening_and_dual_ascent():
    logits = torch.tensor([[[1.0, 2.0, 0.5], [3.0, 3.0, 3.0]]])
    mask = torch.tensor([[True, True]])
    assert float(flattening_loss(logits, mask)) == pytest.approx(((2.0 - 3.5 / 3) ** 2 + 0.0) / 2, abs=1e-6)
    assert dual_update(1.0, 2.5, 2.0, 1.0) == pytest.approx(1.5)
    assert dual_update(0.2, 1.0, 2.0, 1.0) == 0.0  # lambda never goes below zero
    loss = PDULoss(alpha=1.0, dual_step_size=2.0, retain_margin=0.3)
    lp1 = torch.tensor([[-1.0, -2.0]])  # NLL 1.5: eps = 1.8
    first = loss.retain(SimpleNamespace(logprobs=lambda: lp1, mask=torch.tensor([[True, True]])))
    assert float(first) == pytest.approx(1.5 - 1.8) and loss.alpha == 1.0 and loss.retain_loss_eps == pytest.approx(1.8)
    lp2 = torch.tensor([[-3.0, -3.0]])  # the second step applies the first step's update: 1 + 2 (1.5 - 1.8) = 0.4
    loss.retain(SimpleNamespace(logprobs=lambda: lp2, mask=torch.tensor([[True, True]])))
    assert loss.alpha == pytest.approx(0.4)
    warm = PDULoss(alpha=1.0, retain_loss_eps=1.0, warmup_steps=1)
    for _ in range(2):  # the first call is warm-up: its NLL does not move lambda
        warm.retain(SimpleNamespace(logprobs=lambda: lp2, mask=torch.tensor([[True, True]])))
    assert warm.alpha == 1.0


def test_altpo_prompt_keeps_the_first_words():
    assert split_prompt("The women are awful people.", 0.5) == ("The women", " are awful people.")
    assert split_prompt("Hello", 0.5) == ("Hello", "")


# --------------------------------------------------------------------------- the pair methods on the tiny model


@pytest.fixture()
def swap_facts(data_dir: Path, tmp_path: Path) -> RunFacts:
    """Run facts whose data folder holds bias-bench's attribute words only (the attribute-swap source)."""
    (tmp_path / "bias_bench").mkdir()
    shutil.copy(data_dir / "bias_bench/bias_attribute_words.json", tmp_path / "bias_bench")
    return RunFacts(domain="gender", preset="full", eval_every=None, probed_metrics=(), forget_set="test",
                    data=DataLocator(tmp_path, None), metrics=("crows-pairs",))


def _handle():
    return tiny_model_handle(texts=[t.text for t in FORGET] + RETAIN + [SWAPPED_WORDS])


def _unlearn(registry, name: str, facts: RunFacts, handle=None, **options):
    handle = handle or _handle()
    method = registry.get("method", name)
    opts = build_options(method.Options, {"pairs": "attribute-swap", "learning_rate": "3e-3", "batch_size": "4",
                                          **{k: str(v) for k, v in options.items()}}, name)
    method.check_run(opts, facts)
    ctx = UnlearnContext(forget=FORGET, retain=RETAIN, selector=None, selector_ctx=None, registry=registry, seed=0, run=facts)
    return handle, method.unlearn(handle, opts, ctx)


@pytest.mark.parametrize("name", ["biasunlearn", "pcgu"])
def test_pair_methods_train_and_change_the_weights(registry, swap_facts, name):
    handle = _handle()
    before = {k: v.clone() for k, v in handle.model.state_dict().items()}
    handle, outcome = _unlearn(registry, name, swap_facts, handle=handle, max_steps=2, **({"k": 100} if name == "pcgu" else {}))
    assert (outcome.steps, outcome.stop_reason) == (2, "steps")
    assert outcome.info["pair_count"] == 12 and outcome.info["pairs"] == "attribute-swap"
    assert any(not torch.equal(before[k], v) for k, v in handle.model.state_dict().items())
    assert not handle.model.training and all(p.grad is None for p in handle.model.parameters())


def test_pcgu_moves_at_most_k_blocks_per_step(registry, swap_facts):
    handle = _handle()
    before = {n: p.detach().clone() for n, p in trainable_named(handle.model)}
    _unlearn(registry, "pcgu", swap_facts, handle=handle, max_steps=1, k=5)
    part = Partition.of(trainable_named(handle.model))
    moved = 0
    for (name, p), rows in zip(trainable_named(handle.model), part.rows):
        diff = (p.detach() - before[name]).reshape(rows, -1).abs().sum(dim=1)
        moved += int((diff > 0).sum())
    assert 0 < moved <= 5


def test_pcgu_k_beyond_the_model_is_one_line(registry):
    handle = _handle()
    size = Partition.of(trainable_named(handle.model)).size
    assert check_k(handle.model, size) == size
    with pytest.raises(DebiasbenchError, match=rf"k={size + 1} blocks to update, but this model has only {size}") as info:
        registry.get("method", "pcgu").check_model(build_options(registry.get("method", "pcgu").Options, {"k": str(size + 1)}, "pcgu"), handle)
    assert "\n" not in str(info.value)
    with pytest.raises(DebiasbenchError, match="partition size"):
        build_options(registry.get("method", "pcgu").Options, {"k": "0"}, "pcgu")


def test_biasunlearn_swaps_when_the_preference_reverses_and_stops_when_balanced(registry, swap_facts):
    _, outcome = _unlearn(registry, "biasunlearn", swap_facts, max_steps=3, swap_every=1)
    rounds = outcome.info["pair_preference_rounds"]
    assert [r["step"] for r in rounds] == [1, 2, 3]
    assert all(r["swapped"] == float(r["preference"] < 50) for r in rounds)
    _, balanced = _unlearn(registry, "biasunlearn", swap_facts, max_steps=3, swap_every=1, balance_gap=100)
    assert balanced.steps == 1 and balanced.stop_reason == "callback" and balanced.info["biasunlearn_stop"] == "balanced"


def test_pair_methods_need_the_run_facts(registry):
    method = registry.get("method", "pcgu")
    ctx = UnlearnContext(forget=FORGET, retain=RETAIN, selector=None, selector_ctx=None, registry=registry)
    with pytest.raises(DebiasbenchError, match="need the run's facts"):
        method.unlearn(_handle(), build_options(method.Options, {"k": "10"}, "pcgu"), ctx)


def test_altpo_prefers_the_models_own_alternate(registry):
    handle = _handle()
    method = registry.get("method", "altpo")
    opts = build_options(method.Options, {"learning_rate": "3e-3", "batch_size": "4", "max_steps": "1", "alpha": "0"}, "altpo")
    ctx = UnlearnContext(forget=FORGET, retain=[], selector=None, selector_ctx=None, registry=registry, seed=0)
    outcome = method.unlearn(handle, opts, ctx)
    example = outcome.info["altpo_examples"][0]
    assert example["alternate"].startswith(" ".join(example["forget"].split()[:2])) and example["alternate"] != example["forget"]
    assert outcome.history[0].forget_loss == pytest.approx(math.log(2), abs=1e-5)  # theta == ref at the first step


# --------------------------------------------------------------------------- slow: the CLI on the embedded model


@pytest.mark.slow
def test_pcgu_k_beyond_the_embedded_model_writes_nothing(data_dir: Path, tmp_path: Path):
    pytest.importorskip("debiasbench_hf")
    from typer.testing import CliRunner

    from debiasbench.cli import app

    results = tmp_path / "results"
    result = CliRunner().invoke(app, ["run", "--method", "pcgu", "--model", "smollm2-135m-q4", "--domain", "gender",
                                      "-o", "k=1000000000", "--metrics", "crows-pairs", "--results-dir", str(results),
                                      "--data-dir", str(data_dir), "--device", "cpu"])
    assert result.exit_code == 1 and "k=1000000000 blocks to update, but this model has only" in result.output
    assert "Traceback" not in result.output and (not results.exists() or not any(results.rglob("*")))
