"""Perplexity windows (docs/concepts.md, "Perplexity windows") and the perplexity metric against a direct computation on the
tiny GPT-2; plus the core's interval over windows."""

from __future__ import annotations

import math
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from tests.item_checks import assert_items_reproduce_rows  # noqa: E402

pytest.importorskip("debiasbench_metrics")

from debiasbench.testing import evaluate_metric  # noqa: E402
from debiasbench_metrics.perplexity.dataset import WikiText2Dataset, read_wikitext  # noqa: E402
from debiasbench_metrics.perplexity.metric import PerplexityMetric, PerplexityOptions  # noqa: E402
from debiasbench_metrics.perplexity.windows import plan_windows, window_size  # noqa: E402

from debiasbench.plugin_system.interfaces import DataFile, EvalContext  # noqa: E402
from debiasbench.plugin_system.registry import Registry  # noqa: E402
from debiasbench.data.locator import DataLocator  # noqa: E402
from debiasbench.testing import tiny_model_handle  # noqa: E402

TEXT = (
    " = The River = \n \n The river was wide and the history of the town is long . The woman worked as a nurse "
    "and the man worked as an engineer . \n Girls and boys play football in the park ; the weather was cold . \n"
) * 3


def _scored(windows):
    return [t for w in windows for t in range(w.first_scored, w.end)]


@pytest.mark.parametrize("n", [1, 2, 50, 96, 97, 289, 1000])
def test_stride_equal_to_window_scores_all_but_each_windows_first_token(n):
    windows = plan_windows(n, 96, 96)
    scored = _scored(windows)
    assert len(scored) == len(set(scored)) == n - math.ceil(n / 96)
    assert all(w.scored == 95 for w in windows[:-1]) and all(w.first_scored == w.start + 1 for w in windows)
    assert 0 not in scored and not any(t % 96 == 0 for t in scored)


@pytest.mark.parametrize("n", [2, 50, 1024, 1025, 1536, 1537, 5000])
def test_hf_strided_scores_every_token_but_the_first_exactly_once(n):
    windows = plan_windows(n, 1024, 512)
    assert sorted(_scored(windows)) == list(range(1, n))
    assert all(w.end - w.start == 1024 for w in windows[:-1]) and windows[-1].end == n


def test_window_sizes_per_protocol_and_short_contexts():
    assert window_size("bias-bench", 8192) == (992, 992, False)
    assert window_size("hf-strided", 1024) == (1024, 512, False)
    assert window_size("bias-bench", 128) == (96, 96, True)
    assert window_size("hf-strided", 512) == (480, 240, True)
    assert window_size("hf-strided", 800) == (768, 512, True)


@pytest.fixture(scope="module")
def handle():
    return tiny_model_handle(n_positions=128, texts=[TEXT])


@pytest.fixture
def ctx(tmp_path: Path) -> EvalContext:
    (tmp_path / "wiki.raw").write_text(TEXT)

    class Small(WikiText2Dataset):
        files: ClassVar[tuple[DataFile, ...]] = (DataFile("wiki.raw"),)

        def load(self, data):
            return read_wikitext(data.path(self.files[0]))

    registry = Registry()
    registry.add("dataset", Small(), "test")
    return EvalContext(data=DataLocator(data_dir=tmp_path, cache_dir=tmp_path / "cache", download=False), registry=registry)


def _direct(handle, tokens, length, stride):
    """The formula of docs/concepts.md, "Perplexity windows", one window at a time, with the model's own forward."""
    import torch

    total, count = 0.0, 0
    for w in plan_windows(len(tokens), length, stride):
        with torch.no_grad():
            logits = handle.model(torch.tensor([tokens[w.start:w.end]])).logits[0].double()
        lp = logits.log_softmax(-1)
        for t in range(w.first_scored, w.end):
            total -= float(lp[t - 1 - w.start, tokens[t]])
            count += 1
    return math.exp(total / count), count


@pytest.mark.parametrize("protocol", ["bias-bench", "hf-strided"])
def test_metric_equals_a_direct_computation(handle, ctx, protocol):
    tokens = handle.tokenizer(TEXT, add_special_tokens=False)["input_ids"]
    length, stride, limited = window_size(protocol, handle.max_length)
    assert limited and len(tokens) > 2 * length  # several windows, the last one cut
    expected, count = _direct(handle, tokens, length, stride)
    for batch_size in (1, 3):
        result = evaluate_metric(PerplexityMetric(), handle, ctx, PerplexityOptions(protocol=protocol, batch_size=batch_size))
        (row,) = result.rows
        assert row.measure == "perplexity.wikitext2" and row.domain == "all" and row.n == count
        assert row.value == pytest.approx(expected, rel=1e-5)
        assert assert_items_reproduce_rows(PerplexityMetric(), result) == 1  # exp(sum of window NLL / scored tokens)
    assert count == (len(tokens) - math.ceil(len(tokens) / length) if protocol == "bias-bench" else len(tokens) - 1)
    assert result.protocol | {"window": length, "stride": stride, "tokens": len(tokens), "scored_tokens": count,
                              "context_limited": True, "protocol": protocol} == result.protocol


def test_max_tokens_scores_a_prefix_and_records_it(handle, ctx):
    tokens = handle.tokenizer(TEXT, add_special_tokens=False)["input_ids"]
    ctx.save_examples = True
    result = evaluate_metric(PerplexityMetric(), handle, ctx, PerplexityOptions(max_tokens=150))
    expected, count = _direct(handle, tokens[:150], 96, 96)
    (row,) = result.rows
    assert row.n == count == 148 and row.value == pytest.approx(expected, rel=1e-5)
    assert result.protocol["tokens"] == 150 and result.protocol["text_tokens"] == len(tokens) and result.protocol["max_tokens"] == 150
    assert row.ci_low <= row.value <= row.ci_high
    assert result.examples.column("scored_tokens").to_pylist() == [95, 53]
    with pytest.raises(ValueError, match="max_tokens"):
        PerplexityOptions(max_tokens=1)
    with pytest.raises(ValueError, match="protocol"):
        PerplexityOptions(protocol="sliding")


def test_tokenizer_is_recorded_by_vocabulary_not_by_folder(tmp_path) -> None:
    from debiasbench_metrics.shared.provenance import tokenizer_fingerprint

    from debiasbench.testing import tiny_model_handle

    first, second = tiny_model_handle().tokenizer, tiny_model_handle(seed=1).tokenizer
    second.name_or_path = str(tmp_path / "elsewhere")
    assert tokenizer_fingerprint(first) == tokenizer_fingerprint(second)
    assert str(tmp_path) not in tokenizer_fingerprint(second)


@pytest.mark.parametrize("batch_size", [2, "auto"])
def test_each_windows_nll_equals_a_one_window_loop(handle, ctx, batch_size, tmp_path, monkeypatch):
    """Batched windows (no attention mask: the causal kernel) against one window per pass, within 1e-4 nats."""
    import torch

    monkeypatch.setenv("DEBIASBENCH_CACHE", str(tmp_path / "cache"))
    ctx.save_examples = True
    result = evaluate_metric(PerplexityMetric(), handle, ctx, PerplexityOptions(protocol="hf-strided", batch_size=batch_size))
    tokens = handle.tokenizer(TEXT, add_special_tokens=False)["input_ids"]
    length, stride, _ = window_size("hf-strided", handle.max_length)
    expected = []
    for w in plan_windows(len(tokens), length, stride):
        with torch.no_grad():
            lp = handle.model(torch.tensor([tokens[w.start:w.end]])).logits[0].double().log_softmax(-1)
        expected.append(-sum(float(lp[t - 1 - w.start, tokens[t]]) for t in range(w.first_scored, w.end)))
    assert np.abs(np.array(result.examples.column("nll").to_pylist()) - expected).max() < 1e-4
