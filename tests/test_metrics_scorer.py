"""Sentence scorer of the metrics plugin: batched == alone, shared-prefix packing == plain, contexts,
fallback paths and input checks (docs/concepts.md, "Sentence scoring"), all on the tiny GPT-2."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("debiasbench_metrics")

from debiasbench_metrics.scoring import logprob_head, pair_scorer  # noqa: E402
from debiasbench_metrics.scoring.prefix_tree import tree_row  # noqa: E402
from debiasbench_metrics.scoring.scorer import encode, reduce_scores, sentence_logprobs  # noqa: E402
from debiasbench_metrics.scoring.sentences import continuation_text, score_sentences  # noqa: E402

from debiasbench.errors import DebiasbenchError  # noqa: E402
from debiasbench.testing import tiny_model_handle  # noqa: E402

TOLERANCE = 1e-4  # docs/concepts.md, "Sentence scoring": a difference above 1e-4 nats is a bug
TEXTS = [
    "He",
    "The woman worked as a nurse.",
    "The woman worked as an engineer.",
    "The woman worked",
    "The woman worked as a nurse.",  # a duplicate
    "Black people and white people, Muslims, Christians and Jews live in the city, and the history of the "
    "town is long; the weather was cold and the river was wide.",
    "Immigrants, gay people and disabled people deserve the same respect.",
    "Women are smart.",
]


@pytest.fixture(scope="module")
def handle():
    return tiny_model_handle(n_positions=256)


def _alone(handle, sequences, contexts=None):
    contexts = contexts or [0] * len(sequences)
    return [sentence_logprobs(handle, [s], [c])[0] for s, c in zip(sequences, contexts)]


def _max_diff(a, b):
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b))


def test_batched_scores_equal_one_at_a_time(handle):
    sequences = encode(handle, TEXTS)
    lengths = sorted(len(s) for s in sequences)
    assert lengths[-1] >= 10 * lengths[0]  # very different lengths share batches
    alone = _alone(handle, sequences)
    for batch_size in (3, 64):
        batched = sentence_logprobs(handle, sequences, batch_size=batch_size)
        assert [len(x) for x in batched] == [len(s) for s in sequences]
        assert _max_diff(alone, batched) <= TOLERANCE


def test_alone_equals_the_models_own_forward(handle):
    import torch

    ids = encode(handle, [TEXTS[1]])[0]
    with torch.no_grad():
        logits = handle.model(torch.tensor([[handle.prefix_token_id, *ids]])).logits[0, :-1]
    expected = logits.log_softmax(-1).gather(-1, torch.tensor(ids)[:, None])[:, 0].double().numpy()
    assert np.abs(sentence_logprobs(handle, [ids])[0] - expected).max() <= TOLERANCE


@pytest.mark.parametrize("row_size", [1, 2, 8])
def test_shared_prefix_scorer_equals_plain(handle, row_size):
    sequences = encode(handle, TEXTS)
    plain = sentence_logprobs(handle, sequences)
    packed = pair_scorer.shared_prefix_logprobs(handle, sequences, batch_size=4, row_size=row_size)
    assert [len(x) for x in packed] == [len(x) for x in plain]
    assert _max_diff(plain, packed) <= TOLERANCE


def test_contexts_are_read_but_not_scored(handle):
    sequences = encode(handle, TEXTS)
    contexts = [0, 2, 2, 1, 3, 10, 0, 1]
    alone = _alone(handle, sequences)
    for scorer in (sentence_logprobs, pair_scorer.shared_prefix_logprobs):
        scored = scorer(handle, sequences, contexts)
        assert [len(x) for x in scored] == [len(s) - c for s, c in zip(sequences, contexts)]
        assert _max_diff([a[c:] for a, c in zip(alone, contexts)], scored) <= TOLERANCE


def test_tree_row_layout_and_mask_give_each_token_its_ancestors():
    import torch

    sequences = [[0, 5, 6, 7], [0, 5, 6], [0, 5, 8], [0, 5, 6, 7], [0, 9]]
    order = sorted(range(len(sequences)), key=lambda i: sequences[i])
    row = tree_row(sequences, order)
    assert row.tokens.tolist() == [0, 5, 6, 7, 8, 9]  # pre-order; the duplicate and the prefix add nothing
    assert row.depths.tolist() == [0, 1, 2, 3, 2, 1]
    for k, i in enumerate(row.members.tolist()):
        path = row.paths[k, :len(sequences[i])]
        assert row.tokens[path].tolist() == sequences[i] and row.depths[path].tolist() == list(range(len(sequences[i])))
    depths = torch.tensor(np.concatenate([row.depths, [-1, -1]]))[None]
    allowed = pair_scorer.tree_attention_mask(depths, torch.float32)[0, 0] == 0
    ancestors = {0: {0}, 1: {0, 1}, 2: {0, 1, 2}, 3: {0, 1, 2, 3}, 4: {0, 1, 4}, 5: {0, 5}, 6: {6}, 7: {7}}
    for q, seen in ancestors.items():
        assert set(torch.nonzero(allowed[q])[:, 0].tolist()) == seen


def test_fallbacks_give_the_same_scores(handle, monkeypatch):
    sequences = encode(handle, TEXTS[:4])
    reference = sentence_logprobs(handle, sequences)
    monkeypatch.setitem(pair_scorer._PACKING_OK, handle.model, False)  # e.g. a flash-attention model
    assert _max_diff(reference, pair_scorer.shared_prefix_logprobs(handle, sequences)) == 0.0
    monkeypatch.setitem(logprob_head._FAST_PATH, handle.model, False)  # e.g. logit soft-capping
    assert _max_diff(reference, sentence_logprobs(handle, sequences)) <= TOLERANCE


def test_fast_path_and_packing_are_detected_on_gpt2(handle):
    assert logprob_head.fast_path_ok(handle.model)
    assert pair_scorer.packing_supported(handle)


def test_reduce_sum_and_mean():
    lps = [np.array([-1.0, -3.0]), np.array([-2.0])]
    assert reduce_scores(lps, "sum").tolist() == [-4.0, -2.0]
    assert reduce_scores(lps, "mean").tolist() == [-2.0, -2.0]
    with pytest.raises(ValueError):
        reduce_scores(lps, "max")


def test_score_sentences_with_contexts_scores_only_the_continuation(handle):
    context, sentence = "The woman worked as a nurse.", "She was smart."
    assert continuation_text(context, sentence) == " She was smart."
    assert continuation_text(context + " ", sentence) == sentence
    scores, counts = score_sentences(handle, [sentence], [context], scoring="sum", batch_size=8)
    ctx_ids, cont_ids = encode(handle, [context, " " + sentence])
    direct = sentence_logprobs(handle, [ctx_ids + cont_ids], [len(ctx_ids)])[0]
    assert counts.tolist() == [len(cont_ids)] and abs(scores[0] - direct.sum()) <= TOLERANCE


def test_bfloat16_model_is_scored_in_its_own_dtype():
    import torch

    handle = tiny_model_handle(n_positions=256)
    sequences = encode(handle, TEXTS[:4])
    reference = sentence_logprobs(handle, sequences)
    handle.model.to(torch.bfloat16)
    handle.dtype = "bfloat16"
    packed = pair_scorer.shared_prefix_logprobs(handle, sequences)
    assert all(x.dtype == np.float64 for x in packed)
    assert _max_diff(reference, packed) < 0.5  # bfloat16 rounding, not a different computation


def test_unscorable_sentences_fail_with_one_line(handle):
    with pytest.raises(DebiasbenchError, match="no tokens to score"):
        sentence_logprobs(handle, [[5, 6], [7]], [0, 1])
    with pytest.raises(DebiasbenchError, match="context of 256"):
        pair_scorer.shared_prefix_logprobs(handle, [[5] * 300])


@pytest.mark.parametrize("block", [(4096, 512), (3, 200), (1, 10_000)])
def test_streamed_output_layer_equals_a_full_log_softmax(block):
    """Row blocks and vocabulary slices (partial last slice included) give the full log-softmax."""
    import torch

    generator = torch.Generator().manual_seed(0)
    vocab, width, positions = 1_300, 16, 7
    weight = torch.randn(vocab, width, generator=generator)
    features = 3 * torch.randn(positions + 3, width, generator=generator)  # 3 positions nobody asks for
    unique = torch.tensor([9, 0, 4, 2, 7, 5, 1])  # the rows that are read, gathered block by block
    inverse = torch.tensor([0, 0, 1, 2, 3, 4, 5, 6, 6, 6])  # positions shared by several requests
    targets = torch.tensor([0, 1299, 511, 512, 513, 1023, 1024, 7, 7, 800])  # targets on slice edges
    reference = (features[unique] @ weight.t()).log_softmax(-1)[inverse, targets]
    streamed = logprob_head._streamed_logprobs(features, unique, weight, inverse, targets, block)
    assert torch.allclose(streamed, reference, atol=1e-5)
    head = torch.nn.Linear(width, vocab, bias=False).requires_grad_(False)
    head.weight.copy_(weight)
    chunked = logprob_head._chunked_logprobs(features, unique, head, inverse, targets, 2_600)  # any head: 2 rows of logits at a time
    assert torch.allclose(chunked, reference, atol=1e-5)
