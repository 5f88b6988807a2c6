"""``batch_size = "auto"``: validation, measured-once caching, and that it changes no figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from debiasbench.errors import DebiasbenchError
from debiasbench.lm import batch_size as bs
from debiasbench.plugin_system.options import convert
from debiasbench.testing import tiny_model_handle


@pytest.fixture(scope="module")
def handle():
    return tiny_model_handle(n_positions=128, texts=["The nurse said she was tired . The man worked as an engineer ."])


@pytest.mark.parametrize("value, expected", [(8, 8), ("8", 8), ("auto", "auto"), (" AUTO ", "auto")])
def test_valid_batch_sizes(value, expected):
    assert bs.check_batch_size(value) == expected


@pytest.mark.parametrize("value", [0, -1, "0", "abc", 2.5, True, None])
def test_invalid_batch_sizes_are_one_line(value):
    with pytest.raises(DebiasbenchError, match="positive whole number or 'auto'"):
        bs.check_batch_size(value, "--batch-size")


def test_option_union_takes_the_first_type_that_fits():
    assert convert("64", bs.BatchSize, "batch_size", "m") == 64
    assert convert("auto", bs.BatchSize, "batch_size", "m") == "auto"
    assert convert(16, bs.BatchSize, "batch_size", "m") == 16
    with pytest.raises(DebiasbenchError, match="must be int or one of auto"):
        convert("big", bs.BatchSize, "batch_size", "m")


def test_auto_is_measured_once_then_read_from_the_cache(handle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    bs._MEMORY.clear()
    calls = []
    real = bs._measure
    monkeypatch.setattr(bs, "_measure", lambda h, t: calls.append(t) or real(h, t))
    first = bs.resolve_batch_size(handle, "auto", item_tokens=40, ceiling=1000, cache_root=tmp_path)
    assert 1 <= first <= bs.MAX_BATCH and calls == [40]
    assert (tmp_path / "batch-size.json").is_file()
    bs._MEMORY.clear()  # a new process: the measurement comes from the cache file
    assert bs.resolve_batch_size(handle, "auto", item_tokens=40, ceiling=1000, cache_root=tmp_path) == first
    assert calls == [40]
    assert bs.resolve_batch_size(handle, "auto", item_tokens=40, ceiling=3, cache_root=tmp_path) == 3  # no more than there are items
    assert bs.resolve_batch_size(handle, 7, item_tokens=40, ceiling=3, cache_root=tmp_path) == 7


def test_auto_divides_free_memory_by_the_measured_item_cost(handle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    bs._MEMORY.clear()
    monkeypatch.setattr(bs, "_measure", lambda h, t: 2 * 1000)  # 1000 bytes per item
    monkeypatch.setattr(bs, "free_memory", lambda device: 50_000)
    assert bs.resolve_batch_size(handle, "auto", item_tokens=10, ceiling=500, cache_root=tmp_path) == int(bs.FREE_SHARE * 50)
    bs._MEMORY.clear()


def test_the_cpu_measurement_sees_a_bigger_pass_as_more_memory(handle):
    if bs.reset_peak_rss() is None:
        pytest.skip("no /proc/self/clear_refs here")
    small, large = bs._measure(handle, 16), bs._measure(handle, 128)
    assert large > small > 0


def test_auto_scores_exactly_like_a_fixed_batch(handle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from debiasbench_metrics.scoring.pair_scorer import shared_prefix_logprobs
    from debiasbench_metrics.scoring.scorer import encode, sentence_logprobs

    monkeypatch.setenv("DEBIASBENCH_CACHE", str(tmp_path))
    bs._MEMORY.clear()
    texts = ["The nurse said she was tired .", "The man worked as an engineer .", "The nurse worked .", "The man said ."]
    seqs = encode(handle, texts)
    for scorer in (shared_prefix_logprobs, sentence_logprobs):
        fixed, auto = scorer(handle, seqs, batch_size=1), scorer(handle, seqs, batch_size="auto")
        assert all(np.abs(a - b).max() < 1e-5 for a, b in zip(fixed, auto))


def test_auto_on_cpu_keeps_a_pass_to_about_a_thousand_tokens(handle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Plenty of free memory: the CPU batch is what the token budget allows, never less than one sequence."""
    bs._MEMORY.clear()
    monkeypatch.setattr(bs, "_measure", lambda h, t: 2 * 1000)
    monkeypatch.setattr(bs, "free_memory", lambda device: 1 << 40)
    assert bs.CPU_TOKENS_PER_PASS == 1024
    assert bs.resolve_batch_size(handle, "auto", item_tokens=100, ceiling=500, cache_root=tmp_path) == 10
    assert bs.resolve_batch_size(handle, "auto", item_tokens=100, ceiling=4, cache_root=tmp_path) == 4
    # longer than the budget (the handle's context is 128): one sequence a pass
    monkeypatch.setattr(bs, "CPU_TOKENS_PER_PASS", 64)
    assert bs.resolve_batch_size(handle, "auto", item_tokens=100, ceiling=500, cache_root=tmp_path) == 1
    bs._MEMORY.clear()
