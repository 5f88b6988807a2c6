"""Continuations scored as lm-evaluation-harness scores a multiple-choice question: no prefix token before a non-empty context.

lm-eval (0.4) reads ``context + continuation`` as the tokenizer writes them, and only an empty context gets
the prefix token (its ``loglikelihood``: ``[prefix_token_id]`` when ``context == ""``, else ``_encode_pair``).
The toolkit's scorer always puts its prefix token ``p`` first (docs/concepts.md, "Sentence scoring"); here the context's own first
token takes ``p``'s place: the sequences are grouped by that token and each group is scored by the shared
scorer with it as the prefix, so packing, batching and the streamed output layer stay the same.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from debiasbench.api import ModelHandle, ProgressFactory
from debiasbench.api.lm import BatchSize
from debiasbench_metrics.scoring.pair_scorer import ROW_SIZE, shared_prefix_logprobs
from debiasbench_metrics.scoring.scorer import encode, reduce_scores
from debiasbench_metrics.scoring.sentences import continuation_text


def score_without_prefix(
    handle: ModelHandle, sentences: Sequence[str], contexts: Sequence[str], *, scoring: str, batch_size: BatchSize,
    groups: Sequence[int] | None = None, row_size: int = ROW_SIZE, progress: ProgressFactory | None = None,
    description: str = "scoring",
) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`sentences.score_sentences` with ``contexts``, but the context is read from its first token on."""
    context_ids = encode(handle, contexts)
    continuation_ids = encode(handle, [continuation_text(c, s) for c, s in zip(contexts, sentences)])
    if any(not c for c in context_ids):
        raise ValueError("score_without_prefix needs a non-empty context for every sentence")
    logprobs: list[np.ndarray | None] = [None] * len(sentences)
    for first in dict.fromkeys(c[0] for c in context_ids):
        chosen = [i for i, c in enumerate(context_ids) if c[0] == first]
        found = shared_prefix_logprobs(
            dataclasses.replace(handle, prefix_token_id=first), [context_ids[i][1:] + continuation_ids[i] for i in chosen],
            [len(context_ids[i]) - 1 for i in chosen], batch_size=batch_size, row_size=row_size,
            groups=[groups[i] for i in chosen] if groups is not None else None, progress=progress, description=description,
        )
        for i, lp in zip(chosen, found):
            logprobs[i] = lp
    done = [lp for lp in logprobs if lp is not None]
    return reduce_scores(done, scoring), np.array([len(lp) for lp in done], dtype=np.int64)
