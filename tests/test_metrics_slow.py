"""The metrics on the real data and the embedded SmolLM2-135M, on small seeded subsets (slow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("debiasbench_metrics")
pytest.importorskip("debiasbench_hf")

from debiasbench.testing import evaluate_metric  # noqa: E402
from debiasbench_metrics.scoring.pair_scorer import shared_prefix_logprobs  # noqa: E402
from debiasbench_metrics.scoring.scorer import encode, sentence_logprobs  # noqa: E402

from debiasbench.plugin_system.interfaces import EvalContext  # noqa: E402
from debiasbench.plugin_system.loader import get_registry  # noqa: E402
from debiasbench.data.locator import DataLocator  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def smollm2(embedded_model):
    """The embedded model, loaded once for the session (tests/conftest.py)."""
    return embedded_model


@pytest.fixture
def ctx(data_dir: Path) -> EvalContext:
    return EvalContext(data=DataLocator(data_dir=data_dir, download=False), registry=get_registry(), seed=0)


def test_packed_scores_equal_plain_scores_on_smollm2(smollm2, ctx):
    pairs = ctx.registry.get("dataset", "crows-pairs").load(ctx.data)[:12]
    sequences = encode(smollm2, [p.sent_more for p in pairs] + [p.sent_less for p in pairs])
    plain = sentence_logprobs(smollm2, sequences)
    packed = shared_prefix_logprobs(smollm2, sequences)
    assert max(float(np.abs(a - b).max()) for a, b in zip(plain, packed)) <= 1e-4


def test_crows_pairs_end_to_end(smollm2, ctx):
    ctx.limit = 4
    metric = ctx.registry.get("metric", "crows-pairs")
    result = evaluate_metric(metric, smollm2, ctx, metric.Options())
    scores = {r.domain: r for r in result.rows if r.measure == "crows-pairs.score"}
    assert len(scores) == 10 and all(scores[d].n == 4 for d in scores if d != "all") and scores["all"].n == 36
    assert result.protocol["pairs"] == 36 and result.protocol["prefix_token_id"] == 0  # speed: benchmarks/, not a timed test


def test_stereoset_end_to_end(smollm2, ctx):
    ctx.limit, ctx.domains = 3, ("gender", "race", "religion")
    metric = ctx.registry.get("metric", "stereoset")
    result = evaluate_metric(metric, smollm2, ctx, metric.Options())
    rows = {(r.domain, r.measure): r for r in result.rows}
    assert {d for d, _ in rows} == {"gender", "race", "religion", "all"}
    assert rows[("all", "stereoset-inter.lms")].n == 9 and 0 <= rows[("all", "stereoset-intra.icat")].value <= 100
    assert result.protocol["examples"] == {"intrasentence": 9, "intersentence": 9}


def test_perplexity_prefix_end_to_end(smollm2, ctx):
    metric = ctx.registry.get("metric", "perplexity")
    result = evaluate_metric(metric, smollm2, ctx, metric.Options(max_tokens=1024))
    (row,) = result.rows
    assert row.n == 1024 - 2 and result.protocol["window"] == 992 and not result.protocol["context_limited"]
    assert 5 < row.value < 200
