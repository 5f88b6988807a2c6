"""Score a continuation after its context and check it is the greedy one (LAMBADA; docs/concepts.md).

For each token sequence ``context + continuation`` (no prefix token: a non-empty context conditions on
itself, as lm-evaluation-harness's ``loglikelihood`` does) this gives the continuation's summed
log-probability and whether each of its tokens is the argmax of the model's distribution given everything
before it. It follows lm-eval's ``HFLM._loglikelihood_tokens``: the last ``max_length + 1`` tokens are kept
(a longer context loses its start), the model reads all of them but the last, and the logits at the
continuation's positions are compared with its tokens.

Sequences are sorted by length (longest first) and cut into batches, right-padded; no attention mask is
needed (causal attention never reads the padding after a token). Only the positions that predict a
continuation token go through the output layer, all at once per batch: no loop over tokens. Sentences
that share prefixes are scored by :mod:`pair_scorer` instead; passages share none, and that scorer has no
greedy check.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from debiasbench.api import DebiasbenchError, ModelHandle, ProgressFactory
from debiasbench.api.lm import BatchSize, gather, progress_bar, resolve_batch_size, shard
from debiasbench_metrics.scoring.logprob_head import LogProbHead


def windows_of(handle: ModelHandle, sequences: Sequence[Sequence[int]], continuation_lengths: Sequence[int]) -> list[np.ndarray]:
    """Each sequence's last ``max_length + 1`` tokens; every continuation needs one token and a context token."""
    keep = handle.max_length + 1
    windows = []
    for i, (seq, k) in enumerate(zip(sequences, continuation_lengths)):
        window = np.asarray(seq[-keep:], dtype=np.int64)
        if k < 1:
            raise DebiasbenchError(f"continuation {i} has no tokens to score; every continuation needs at least one token")
        if k >= len(window):
            raise DebiasbenchError(f"continuation {i} has {k} tokens, which leaves no context within the model's "
                                   f"{handle.max_length} positions; it cannot be scored")
        windows.append(window)
    return windows


def continuation_scores(
    handle: ModelHandle,
    sequences: Sequence[Sequence[int]],
    continuation_lengths: Sequence[int],
    *,
    batch_size: BatchSize = 32,
    progress: ProgressFactory | None = None,
    description: str = "scoring",
) -> tuple[np.ndarray, np.ndarray]:
    """(summed log-probability of each sequence's last ``continuation_lengths[i]`` tokens, float64;
    whether each of those tokens is the greedy argmax, bool)."""
    import torch

    from debiasbench.api.lm import model_device

    windows = windows_of(handle, sequences, continuation_lengths)
    lengths = np.array([len(w) - 1 for w in windows], dtype=np.int64)  # model inputs: the window but its last token
    k_all = np.asarray(continuation_lengths, dtype=np.int64)
    head = LogProbHead(handle.model)
    output = handle.model.get_output_embeddings() if head.fast else None
    device = model_device(handle.model)
    order = np.argsort(-lengths, kind="stable")
    size = resolve_batch_size(handle, batch_size, item_tokens=int(lengths.max(initial=1)), ceiling=len(windows))
    batches = shard([order[s:s + size] for s in range(0, len(order), size)])
    results: dict[int, tuple[float, bool]] = {}
    with progress_bar(progress, description, sum(len(b) for b in batches)) as shown, torch.inference_mode():
        for batch in batches:
            width = int(lengths[batch].max())
            ids = np.full((len(batch), width), handle.prefix_token_id, dtype=np.int64)
            for row, i in enumerate(batch):
                ids[row, :lengths[i]] = windows[i][:-1]
            k = k_all[batch]
            # the input position predicting continuation token j (0-based) of row b: lengths - k + j
            rows = np.repeat(np.arange(len(batch)), k)
            within = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)
            nodes = rows * width + np.repeat(lengths[batch] - k, k) + within
            targets = np.concatenate([windows[i][-k_all[i]:] for i in batch])
            positions = torch.arange(width, device=device).expand(len(batch), width)
            features = head.features(torch.from_numpy(ids).to(device), None, positions)
            picked = features.reshape(-1, features.shape[-1])[torch.from_numpy(nodes).to(features.device)]
            logits = (output(picked.to(output.weight.device)) if output is not None else picked).float()
            wanted = torch.from_numpy(targets).to(logits.device)
            logprobs = logits.log_softmax(-1).gather(1, wanted[:, None])[:, 0].double().cpu().numpy()
            greedy = (logits.argmax(-1) == wanted).cpu().numpy()
            starts = np.cumsum(k) - k
            summed, all_greedy = np.add.reduceat(logprobs, starts), np.logical_and.reduceat(greedy, starts)
            for row, i in enumerate(batch):
                results[int(i)] = (float(summed[row]), bool(all_greedy[row]))
            shown.advance(len(batch))
    results = gather(results)  # under accelerate launch: every process's batches
    return (np.array([results[i][0] for i in range(len(windows))], dtype=np.float64),
            np.array([results[i][1] for i in range(len(windows))], dtype=bool))
