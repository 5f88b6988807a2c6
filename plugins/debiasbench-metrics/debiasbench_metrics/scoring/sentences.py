"""Text in, sentence scores out: tokenise, score with shared prefixes, reduce (docs/concepts.md, "Sentence scoring")."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from debiasbench.api import ModelHandle, ProgressFactory
from debiasbench_metrics.scoring.pair_scorer import ROW_SIZE, shared_prefix_logprobs
from debiasbench_metrics.scoring.scorer import encode, reduce_scores


def continuation_text(context: str, sentence: str) -> str:
    """The text scored after ``context``: the sentence with one separating space (none if the context ends in whitespace)."""
    return sentence if not context or context[-1].isspace() else " " + sentence


def score_sentences(
    handle: ModelHandle,
    sentences: Sequence[str],
    contexts: Sequence[str] | None = None,
    *,
    scoring: str,
    batch_size: int,
    groups: Sequence[int] | None = None,
    row_size: int = ROW_SIZE,
    progress: ProgressFactory | None = None,
    description: str = "scoring",
) -> tuple[np.ndarray, np.ndarray]:
    """Score ``S`` of each sentence and its number of scored tokens.

    With ``contexts``, sentence ``i`` is scored as a continuation: its tokens are
    ``encode(continuation_text(context, sentence))``, read after ``p`` and ``encode(context)``,
    and only they are scored. Context and continuation are tokenised separately, so the
    continuation's tokens do not depend on how a tokenizer would merge across the boundary.
    ``groups`` / ``row_size`` go to the packing: sentences of one group (the answers to one prompt)
    share one packed row, so their common tokens are computed once.
    """
    if contexts is None:
        sequences, context_lengths = encode(handle, sentences), None
    else:
        context_ids = encode(handle, contexts)
        continuation_ids = encode(handle, [continuation_text(c, s) for c, s in zip(contexts, sentences)])
        sequences = [c + s for c, s in zip(context_ids, continuation_ids)]
        context_lengths = [len(c) for c in context_ids]
    logprobs = shared_prefix_logprobs(
        handle, sequences, context_lengths, batch_size=batch_size, row_size=row_size, groups=groups, progress=progress,
        description=description,
    )
    return reduce_scores(logprobs, scoring), np.array([len(lp) for lp in logprobs], dtype=np.int64)
