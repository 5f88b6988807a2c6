"""What a first implementation does, as the reference the toolkit's scorers are timed against:
one sentence or one window per forward pass, the model's full logits, a full log-softmax."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def sentence_loop(handle: Any, sequences: Sequence[Sequence[int]], contexts: Sequence[int] | None = None) -> list[np.ndarray]:
    """``log P(token)`` of each sequence's tokens after its first ``contexts[i]``, one sequence per pass."""
    import torch

    contexts = list(contexts) if contexts is not None else [0] * len(sequences)
    out = []
    with torch.inference_mode():
        for seq, context in zip(sequences, contexts):
            ids = torch.tensor([[handle.prefix_token_id, *seq]], device=handle.model.device)
            logits = handle.model(input_ids=ids).logits[0, :-1].float()
            lp = logits.log_softmax(-1).gather(-1, ids[0, 1:, None])[:, 0]
            out.append(lp[context:].double().cpu().numpy())
    return out


def window_loop(handle: Any, tokens: np.ndarray, windows: Sequence[Any]) -> np.ndarray:
    """Summed NLL of each perplexity window, one window per pass (as Hugging Face's perplexity guide)."""
    import torch

    nll = np.zeros(len(windows))
    with torch.inference_mode():
        for i, w in enumerate(windows):
            ids = torch.from_numpy(tokens[w.start:w.end]).unsqueeze(0).to(handle.model.device)
            lp = handle.model(input_ids=ids).logits[0, :-1].float().log_softmax(-1)
            first = w.first_scored - w.start
            nll[i] = -float(lp[first - 1:].gather(-1, ids[0, first:, None]).double().sum())
    return nll


def window_float64(handle: Any, tokens: np.ndarray, windows: Sequence[Any]) -> np.ndarray:
    """Summed NLL of each window with the output layer and log-softmax in float64: the yardstick
    both float32 scorers are held to (the network body stays float32, as in both of them)."""
    import torch

    nll = np.zeros(len(windows))
    weight = handle.model.get_output_embeddings().weight.double()
    with torch.inference_mode():
        for i, w in enumerate(windows):
            ids = torch.from_numpy(tokens[w.start:w.end]).unsqueeze(0).to(handle.model.device)
            hidden = handle.model.base_model(input_ids=ids, use_cache=False).last_hidden_state[0, :-1].double()
            first = w.first_scored - w.start
            lp = (hidden[first - 1:] @ weight.T).log_softmax(-1)
            nll[i] = -float(lp.gather(-1, ids[0, first:, None]).sum())
    return nll
