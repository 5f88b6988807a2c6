"""What a first implementation does, as the reference the toolkit's scorers are timed against:
one sentence, window or LAMBADA passage per forward pass, the model's full logits, a full log-softmax."""

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


def continuation_loop(handle: Any, sequences: Sequence[Sequence[int]], continuation_lengths: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(summed log-probability of each sequence's last ``continuation_lengths[i]`` tokens, whether each of them is the
    argmax), one sequence per pass, no prefix token (the context conditions on itself), the model's full logits and
    a full log-softmax; the last ``max_length + 1`` tokens kept, as lm-evaluation-harness keeps them."""
    import torch

    summed, greedy = np.zeros(len(sequences)), np.zeros(len(sequences), dtype=bool)
    with torch.inference_mode():
        for i, (seq, k) in enumerate(zip(sequences, continuation_lengths)):
            ids = torch.tensor([list(seq)[-(handle.max_length + 1):]], device=handle.model.device)
            lp = handle.model(input_ids=ids[:, :-1]).logits[0, -k:].float().log_softmax(-1)
            target = ids[0, -k:]
            summed[i] = float(lp.gather(-1, target[:, None]).double().sum())
            greedy[i] = bool((lp.argmax(-1) == target).all())
    return summed, greedy
