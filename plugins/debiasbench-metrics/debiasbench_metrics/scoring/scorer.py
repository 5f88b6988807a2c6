"""Sentence scoring (docs/concepts.md, "Sentence scoring"), shared by CrowS-Pairs and StereoSet.

A sentence ``t_1..t_n`` (tokenised with no special tokens) is scored with the model's prefix
token ``p`` as context: ``lp_i = log P(t_i | p, t_1..t_{i-1})``. A sequence may also carry
context tokens between ``p`` and the scored tokens (StereoSet intersentence); they condition
the scored tokens but are not scored themselves.

:func:`sentence_logprobs` is the plain batched scorer: sequences sorted by length, right-padded,
padding masked through ``attention_mask`` and explicit ``position_ids`` ``0..len-1``, so each
``lp_i`` equals the one from scoring the sentence alone (within 1e-4 nats in float32). The
model's own dtype is used (float32 by default, bfloat16 when loaded so); log-softmax is float32.
:mod:`debiasbench_metrics.scoring.pair_scorer` packs sentences that share opening tokens to compute
those tokens once, and falls back to this scorer where a model ignores custom attention masks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from debiasbench.api import DebiasbenchError, ModelHandle, ProgressFactory
from debiasbench.api.lm import BatchSize, gather, progress_bar, resolve_batch_size, shard
from debiasbench_metrics.scoring.logprob_head import LogProbHead

Scoring = Literal["mean", "sum"]
SCORINGS: tuple[str, ...] = ("mean", "sum")


def encode(handle: ModelHandle, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text, no special tokens (one fast batched tokenizer call)."""
    if not texts:
        return []
    return [list(ids) for ids in handle.tokenizer(list(texts), add_special_tokens=False)["input_ids"]]


def check_sequences(handle: ModelHandle, sequences: Sequence[Sequence[int]], context_lengths: Sequence[int]) -> None:
    """Every sequence scores at least one token and fits the model's context with its prefix token."""
    for i, (seq, context) in enumerate(zip(sequences, context_lengths)):
        if len(seq) - context < 1:
            raise DebiasbenchError(f"sentence {i} has no tokens to score (an empty sentence?); every sentence needs at least one token")
        if len(seq) + 1 > handle.max_length:
            raise DebiasbenchError(
                f"sentence {i} has {len(seq) + 1} tokens with the prefix token, more than the model's context of "
                f"{handle.max_length}; such a sentence cannot be scored"
            )


def sentence_logprobs(
    handle: ModelHandle,
    sequences: Sequence[Sequence[int]],
    context_lengths: Sequence[int] | None = None,
    *,
    batch_size: BatchSize = 64,
    progress: ProgressFactory | None = None,
    description: str = "scoring",
    sharded: bool = True,
) -> list[np.ndarray]:
    """Per-token log-probabilities of each sequence's tokens after its first ``context_lengths[i]``.

    ``sequences`` hold token ids without the prefix token, which is prepended here.
    ``batch_size="auto"``: the largest batch of the longest sequence that fits free memory.
    ``sharded``: under ``accelerate launch``, each process scores its share of the batches and
    all get every result (False: every process scores everything, e.g. a local probe).
    """
    import torch

    from debiasbench.api.lm import model_device

    contexts = list(context_lengths) if context_lengths is not None else [0] * len(sequences)
    check_sequences(handle, sequences, contexts)
    head = LogProbHead(handle.model)
    device = model_device(handle.model)  # split models: the input embedding's device
    pad = handle.prefix_token_id
    order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i]))
    longest = 1 + max((len(s) for s in sequences), default=0)
    batch_size = resolve_batch_size(handle, batch_size, item_tokens=longest, ceiling=len(sequences))
    batches = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
    mine = shard(batches) if sharded else batches
    results: dict[int, np.ndarray] = {}
    with progress_bar(progress, description, sum(len(b) for b in mine)) as shown, torch.inference_mode():
        for batch in mine:
            full = [[handle.prefix_token_id, *sequences[i]] for i in batch]
            width = max(len(s) for s in full)
            ids = np.full((len(batch), width), pad, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, seq in enumerate(full):
                ids[row, :len(seq)] = seq
                mask[row, :len(seq)] = 1
            # Predicting token j (j >= 1 + context) reads the logits at position j - 1 of its row.
            nodes, targets, counts = [], [], []
            for row, (i, seq) in enumerate(zip(batch, full)):
                first = 1 + contexts[i]
                nodes.append(row * width + np.arange(first - 1, len(seq) - 1))
                targets.append(np.asarray(seq[first:], dtype=np.int64))
                counts.append(len(seq) - first)
            input_ids = torch.from_numpy(ids).to(device)
            positions = torch.arange(width, device=device).expand(len(batch), width)
            features = head.features(input_ids, torch.from_numpy(mask).to(device), positions)
            lp = head.logprobs(
                features.reshape(-1, features.shape[-1]),
                torch.from_numpy(np.concatenate(nodes)).to(device),
                torch.from_numpy(np.concatenate(targets)).to(device),
            )
            for i, piece in zip(batch, np.split(lp.double().cpu().numpy(), np.cumsum(counts)[:-1])):
                results[i] = piece
            shown.advance(len(batch))
    if sharded:
        results = gather(results)
    return [results[i] for i in range(len(sequences))]


def reduce_scores(logprobs: Sequence[np.ndarray], scoring: str) -> np.ndarray:
    """``sum``: S = sum_i lp_i (lm-evaluation-harness); ``mean``: S = mean_i lp_i (bias-bench)."""
    if scoring not in SCORINGS:
        raise ValueError(f"scoring must be one of {', '.join(SCORINGS)}, not {scoring!r}")
    reducer: Any = np.sum if scoring == "sum" else np.mean
    return np.array([float(reducer(lp)) for lp in logprobs], dtype=np.float64)
