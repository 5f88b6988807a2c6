"""The seat metric (docs/concepts.md, "SEAT"): WEAT's association, effect size and exact permutation p against direct
computations on tiny hand examples, the sampled p against the exact one; the metric on fixed embeddings
(rows, per-sentence items, domains); test names and files checked; the embedding against one sentence at a
time on the tiny GPT-2; the embedded model on one real test (slow)."""

from __future__ import annotations

import json
import math
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("debiasbench_metrics")

from debiasbench.errors import DataError, UnknownNameError  # noqa: E402
from debiasbench.plugin_system.interfaces import EvalContext  # noqa: E402
from debiasbench.plugin_system.registry import Registry  # noqa: E402
from debiasbench.data.locator import DataLocator  # noqa: E402
from debiasbench.testing import tiny_model_handle  # noqa: E402
from debiasbench_metrics.seat import metric as seat  # noqa: E402
from debiasbench_metrics.seat.dataset import SeatDataset, check_tests  # noqa: E402
from debiasbench_metrics.seat.embeddings import mean_hidden_states  # noqa: E402
from debiasbench_metrics.seat.metric import SeatMetric, SeatOptions  # noqa: E402
from debiasbench_metrics.seat.catalogue import DEFAULT_TESTS, TESTS  # noqa: E402
from debiasbench_metrics.seat.weat import associations, effect_size, permutation_p  # noqa: E402


def test_association_and_effect_size_equal_a_direct_computation():
    rng = np.random.default_rng(3)
    x, y, a, b = (rng.normal(size=(n, 5)) for n in (4, 4, 3, 6))

    def cos(u, v):
        return float(u @ v / math.sqrt((u @ u) * (v @ v)))

    def s(w):
        return np.mean([cos(w, v) for v in a]) - np.mean([cos(w, v) for v in b])

    s_x, s_y = associations(x, a, b), associations(y, a, b)
    assert s_x == pytest.approx([s(w) for w in x]) and s_y == pytest.approx([s(w) for w in y])
    direct = (np.mean([s(w) for w in x]) - np.mean([s(w) for w in y])) / np.std([s(w) for w in [*x, *y]], ddof=1)
    assert effect_size(s_x, s_y) == pytest.approx(direct)


def test_exact_permutation_p_on_four_sentences():
    # partitions of {0.3, 0.1, 0.2, -0.1} into two pairs; X = {0.3, 0.1} sums to 0.4; 0.4 (X itself) and 0.5 reach it
    p, exact = permutation_p(np.array([0.3, 0.1]), np.array([0.2, -0.1]), 100_000, np.random.default_rng(0))
    assert exact and p == pytest.approx(2 / 6)


def test_exact_p_counts_every_partition_like_itertools():
    rng = np.random.default_rng(1)
    s_x, s_y = rng.normal(size=6), rng.normal(size=6)
    pooled = np.concatenate([s_x, s_y])
    by_hand = np.mean([pooled[list(c)].sum() >= s_x.sum() - 1e-12 for c in combinations(range(12), 6)])
    p, exact = permutation_p(s_x, s_y, 10_000, rng)
    assert exact and p == pytest.approx(by_hand)


def test_sampled_p_is_biased_by_one_and_near_the_exact_p():
    rng = np.random.default_rng(2)
    s_x, s_y = rng.normal(0.2, 1, size=8), rng.normal(0, 1, size=8)  # C(16, 8) = 12,870 partitions
    exact, was_exact = permutation_p(s_x, s_y, 20_000, rng)
    sampled, was_sampled_exact = permutation_p(s_x, s_y, 10_000, np.random.default_rng(7))
    assert was_exact and not was_sampled_exact and abs(sampled - exact) < 0.02
    strong, _ = permutation_p(np.full(8, 5.0) + np.arange(8) * 1e-3, np.zeros(8), 100, np.random.default_rng(0))
    assert strong == pytest.approx(1 / 100)  # no partition beats X: only the hallucinated positive counts
    again, _ = permutation_p(s_x, s_y, 10_000, np.random.default_rng(7))
    assert again == sampled  # seeded


# a = (1, 0), b = (0, 1); s(x1) = 1, s(x2) = 0, s(y1) = -1, s(y2) = 0
VECTORS = {"x one": (1.0, 0.0), "x two": (1.0, 1.0), "y one": (0.0, 1.0), "y two": (2.0, 2.0), "good": (1.0, 0.0), "bad": (0.0, 1.0)}
D = 1.0 / math.sqrt(2.0 / 3.0)  # (0.5 - (-0.5)) / std([1, 0, -1, 0], ddof=1)


def _test_file(folder: Path, name: str, targ1: list[str], targ2: list[str]) -> None:
    body = {"targ1": {"category": "X", "examples": targ1}, "targ2": {"category": "Y", "examples": targ2},
            "attr1": {"category": "A", "examples": ["good"]}, "attr2": {"category": "B", "examples": ["bad"]}}
    (folder / "seat").mkdir(exist_ok=True)
    (folder / "seat" / f"{name}.jsonl").write_text(json.dumps(body, indent=2))


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> EvalContext:
    for name in ("sent-weat6", "sent-weat3", "weat1"):
        monkeypatch.setitem(TESTS, name, (TESTS[name][0], None))  # hand-made files: no checksum
    _test_file(tmp_path, "sent-weat6", ["x one", "x two"], ["y one", "y two"])
    _test_file(tmp_path, "sent-weat3", ["y one", "y two"], ["x one", "x two"])  # the reverse: d = -D
    _test_file(tmp_path, "weat1", ["x one", "x two", "x one"], ["y one", "y two"])  # a repeated sentence counts once
    registry = Registry()
    registry.add("dataset", SeatDataset(), "test")
    return EvalContext(data=DataLocator(tmp_path, tmp_path / "cache", download=False), registry=registry)


@pytest.fixture
def fixed_embeddings(monkeypatch: pytest.MonkeyPatch) -> list:
    calls = []

    def fake(handle, sentences, *, batch_size, progress=None, description=""):
        calls.append(list(sentences))
        return np.array([VECTORS[s] for s in sentences])

    monkeypatch.setattr(seat, "mean_hidden_states", fake)
    return calls


class _Model:
    dtype = "float32"


def _rows(result):
    return {(r.domain, r.measure): r for r in result.rows}


def test_effect_size_p_and_domain_summaries_by_hand(ctx, fixed_embeddings):
    result = SeatMetric().evaluate(_Model(), ctx, SeatOptions(tests=("sent-weat6", "sent-weat3", "weat1")))
    rows = _rows(result)
    assert rows[("gender", "seat.sent-weat6.d")].value == pytest.approx(D) and rows[("race", "seat.sent-weat3.d")].value == pytest.approx(-D)
    assert rows[("gender", "seat.sent-weat6.p")].value == pytest.approx(2 / 6) and result.protocol["exact"]["sent-weat6"]
    assert rows[("race", "seat.sent-weat3.p")].value == pytest.approx(6 / 6)  # every partition reaches the lowest sum
    assert rows[("all", "seat.weat1.d")].value == pytest.approx(D)  # flowers/insects: no social domain
    assert rows[("gender", "seat.effect-size")].value == pytest.approx(D) and rows[("all", "seat.effect-size")].value == pytest.approx(D)
    assert rows[("gender", "seat.association")].value == pytest.approx(0.5)  # (mean_X s - mean_Y s) / 2
    assert rows[("all", "seat.association")].value == pytest.approx((0.5 - 0.5 + 0.5) / 3)
    assert len(fixed_embeddings[0]) == len(set(fixed_embeddings[0])) == 6  # each sentence embedded once
    assert all(r.ci_low is None and r.ci_high is None for r in result.rows)


def test_items_are_target_sentences_and_reproduce_the_association(ctx, fixed_embeddings):
    from tests.item_checks import assert_items_reproduce_rows

    result = SeatMetric().evaluate(_Model(), ctx, SeatOptions(tests=("sent-weat6", "sent-weat3")))
    assert assert_items_reproduce_rows(SeatMetric(), result) == 3  # gender, race, all
    gender = [r for r in result.items.to_pylist() if r["domain"] == "gender"]
    assert [r["item"] for r in gender] == ["sent-weat6:targ1:0", "sent-weat6:targ1:1", "sent-weat6:targ2:0", "sent-weat6:targ2:1"]
    assert [r["value"] for r in gender] == pytest.approx([1.0, 0.0, 1.0, 0.0]) and {r["group"] for r in gender} == {"sent-weat6"}


def test_cache_key_holds_only_the_chosen_tests_files(ctx):
    key = SeatMetric().protocol_key(ctx, SeatOptions(tests=("sent-weat6",)))
    assert list(key["seat_files"]) == ["seat/sent-weat6.jsonl"] and SeatMetric.datasets == ()
    with pytest.raises(DataError, match="sent-weat7"):  # a chosen test whose file is missing: one line naming it
        SeatMetric().protocol_key(ctx, SeatOptions(tests=("sent-weat7",)))


def test_evaluated_domains_pick_the_tests(ctx, fixed_embeddings):
    ctx.domains = ("race",)
    result = SeatMetric().evaluate(_Model(), ctx, SeatOptions(tests=("sent-weat6", "sent-weat3", "weat1")))
    assert {r.domain for r in result.rows} == {"race", "all"} and result.protocol["tests"] == ["sent-weat3"]
    assert "sent-weat6, weat1" in result.notes[0]


def test_unknown_test_name_says_did_you_mean():
    with pytest.raises(ValueError, match=r"unknown SEAT test 'sent-weat66'; did you mean 'sent-weat6"):
        SeatOptions(tests=("sent-weat66",))
    with pytest.raises(UnknownNameError, match="did you mean 'sent-religion1'"):
        check_tests(["sent-religon1"])
    assert SeatOptions(tests="all").tests == tuple(TESTS) and SeatOptions().tests == DEFAULT_TESTS and len(DEFAULT_TESTS) == 17


def test_malformed_test_file_names_the_file_and_line(ctx, tmp_path: Path):
    (tmp_path / "seat" / "sent-weat6.jsonl").write_text('{\n  "targ1": {"examples": ["a"]},\n  "targ2": \n}\n')
    with pytest.raises(DataError, match=r"sent-weat6.jsonl: line 4: not JSON"):
        SeatDataset().load_tests(ctx.data, ["sent-weat6"])
    _test_file(tmp_path, "sent-weat3", ["x one"], ["y one", "y two"])
    with pytest.raises(DataError, match=r"sent-weat3.jsonl: targ1 has 1 distinct sentences and targ2 2"):
        SeatDataset().load_tests(ctx.data, ["sent-weat3"])


def test_declarations():
    specs = {m.name: m for m in SeatMetric.measures}
    assert specs["seat.effect-size"].ideal == 0.0 and specs["seat.effect-size"].headline
    assert specs["seat.sent-weat6.d"].ideal == 0.0 and specs["seat.sent-weat6.d"].better == "closer"
    assert specs["seat.association"].aggregate == "group-mean" and len(specs) == 2 + 2 * 50
    assert set(SeatMetric.presets["quick"].options["tests"]) <= set(DEFAULT_TESTS)
    assert {TESTS[t][0] for t in DEFAULT_TESTS} == {"gender", "race", "religion"}


def test_batched_embeddings_equal_one_sentence_at_a_time():
    texts = ["the doctor said hello", "a nurse", "she went home after the long shift at the hospital", "he"]
    handle = tiny_model_handle(texts=texts)
    batched = mean_hidden_states(handle, texts, batch_size=4)
    alone = np.concatenate([mean_hidden_states(handle, [t], batch_size=1) for t in texts])
    assert batched.shape == (4, handle.model.config.n_embd) and np.abs(batched - alone).max() < 1e-5
    import torch

    with torch.inference_mode():  # bias-bench's encoding: the base model on the sentence's ids, mean over tokens
        ids = torch.tensor([handle.tokenizer(texts[2], add_special_tokens=False)["input_ids"]])
        direct = handle.model.base_model(input_ids=ids).last_hidden_state.mean(dim=1)[0].double().numpy()
    assert np.abs(batched[2] - direct).max() < 1e-5


@pytest.mark.slow
def test_embedded_model_on_one_real_test(data_dir: Path, embedded_model):
    from debiasbench.plugin_system.loader import get_registry

    registry = get_registry()
    handle = embedded_model  # loaded once for the session (tests/conftest.py)
    ctx = EvalContext(data=DataLocator(data_dir, download=False), registry=registry)
    result = registry.get("metric", "seat").evaluate(handle, ctx, SeatOptions(tests=("weat6",)))
    rows = _rows(result)
    assert -2 <= rows[("gender", "seat.weat6.d")].value <= 2 and result.protocol["exact"]["weat6"]
    assert 0 < rows[("gender", "seat.weat6.p")].value <= 1
