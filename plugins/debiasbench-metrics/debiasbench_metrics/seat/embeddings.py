"""Sentence embeddings of a causal LM for SEAT: the mean of the last layer's hidden states over the sentence's tokens.

As bias-bench's ``seat.py`` embeds with GPT-2 (``GPT2Model(**tokenizer(text)).last_hidden_state.mean(dim=1)``):
the base model's output (after the final norm), no prefix token, every token of the sentence averaged.
Batched: sentences sorted by length and right-padded; in a causal model a token never attends to the padding
after it, so each sentence's states equal those of the sentence alone, and only its own tokens are averaged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from debiasbench.api import DebiasbenchError, ModelHandle, ProgressFactory
from debiasbench.api.lm import BatchSize, progress_bar, resolve_batch_size
from debiasbench_metrics.scoring.scorer import encode


def mean_hidden_states(
    handle: ModelHandle, sentences: Sequence[str], *, batch_size: BatchSize = 64, progress: ProgressFactory | None = None,
    description: str = "embedding",
) -> np.ndarray:
    """``[len(sentences), hidden]`` float64: each sentence's mean last hidden state (not normalised)."""
    import torch

    from debiasbench.api.lm import model_device

    ids = encode(handle, sentences)
    for i, seq in enumerate(ids):
        if not seq or len(seq) > handle.max_length:
            raise DebiasbenchError(f"SEAT sentence {sentences[i]!r} has {len(seq)} tokens; expected 1 to {handle.max_length}")
    device = model_device(handle.model)
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    size = resolve_batch_size(handle, batch_size, item_tokens=max((len(s) for s in ids), default=1), ceiling=max(1, len(ids)))
    out: list[np.ndarray | None] = [None] * len(ids)
    pad = handle.tokenizer.pad_token_id if handle.tokenizer.pad_token_id is not None else handle.prefix_token_id
    with progress_bar(progress, description, len(ids)) as shown, torch.inference_mode():
        for start in range(0, len(order), size):
            batch = order[start:start + size]
            width = len(ids[batch[0]])
            input_ids = np.full((len(batch), width), pad, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                input_ids[row, :len(ids[i])] = ids[i]
                mask[row, :len(ids[i])] = 1
            mask_t = torch.from_numpy(mask).to(device)
            states = handle.model.base_model(input_ids=torch.from_numpy(input_ids).to(device), attention_mask=mask_t,
                                             use_cache=False).last_hidden_state
            weights = mask_t.unsqueeze(-1).to(states.dtype)
            means = (states * weights).sum(dim=1) / weights.sum(dim=1)
            for row, i in enumerate(batch):
                out[i] = means[row].double().cpu().numpy()
            shown.advance(len(batch))
    return np.stack(out) if out else np.zeros((0, 0))
