"""Score sentences that share opening tokens (CrowS pairs, StereoSet triples) computing those tokens once.

Several sentences are packed into one row as a prefix tree (:mod:`prefix_tree`), with a custom
4-D attention mask that lets each token see only its ancestors and position ids equal to the
token's index in its own sentence. Every ``lp_i`` is therefore the one the plain scorer gives
(within 1e-4 nats in float32), while the shared tokens -- the prefix token, a pair's common
opening words, a triple's context -- go through the network once. Sorting all sentences
lexicographically also shares openings across pairs ("The", "He", "My").

Custom 4-D masks are honoured by the ``eager`` and ``sdpa`` attention implementations; for any
other model (flash attention, remote code) the packed result is compared once with the plain
scorer on a probe, and on disagreement the plain scorer is used.

Under ``accelerate launch`` the packed rows are cut into the same batches as in one process and
each process scores every ``world_size``-th batch (:func:`debiasbench.api.shard`); the scores are
gathered, so every process holds every sentence's ``lp_i``, identical to a single process's.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from debiasbench.api import ModelHandle, ProgressFactory
from debiasbench.api.lm import AUTO, BatchSize, gather, progress_bar, resolve_batch_size, shard
from debiasbench_metrics.scoring.logprob_head import LogProbHead
from debiasbench_metrics.scoring.prefix_tree import TreeRow, tree_rows
from debiasbench_metrics.scoring.scorer import check_sequences, sentence_logprobs

_PACKING_OK: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()
ROW_SIZE = 8
"""Sentences per packed row: more shares more tokens, but attention cost grows with row length."""


def shared_prefix_logprobs(
    handle: ModelHandle,
    sequences: Sequence[Sequence[int]],
    context_lengths: Sequence[int] | None = None,
    *,
    batch_size: BatchSize = 64,
    row_size: int = ROW_SIZE,
    groups: Sequence[int] | None = None,
    progress: ProgressFactory | None = None,
    description: str = "scoring",
) -> list[np.ndarray]:
    """Same contract as :func:`debiasbench_metrics.scoring.scorer.sentence_logprobs`, shared tokens computed once.

    ``batch_size`` counts sentences per forward pass (``batch_size // row_size`` packed rows);
    ``"auto"``: as many packed rows as fit free memory at the longest row's width.
    ``groups`` keeps each group's sequences in one packed row (see :func:`prefix_tree.tree_rows`).
    """
    contexts = list(context_lengths) if context_lengths is not None else [0] * len(sequences)
    if not packing_supported(handle):
        return sentence_logprobs(handle, sequences, contexts, batch_size=batch_size, progress=progress, description=description)
    check_sequences(handle, sequences, contexts)
    return _packed(handle, sequences, contexts, batch_size, row_size, progress, description, groups)


def _packed(
    handle: ModelHandle, sequences: Sequence[Sequence[int]], contexts: list[int], batch_size: BatchSize, row_size: int,
    progress: ProgressFactory | None, description: str, groups: Sequence[int] | None = None, sharded: bool = True,
) -> list[np.ndarray]:
    """Score packed rows batch by batch; ``sharded``: split the batches over launched processes and gather."""
    import torch

    from debiasbench.api.lm import model_device

    full = [[handle.prefix_token_id, *seq] for seq in sequences]
    rows = sorted(tree_rows(full, max(1, row_size), groups), key=lambda r: -len(r.tokens))
    rows_per_batch = packed_rows_per_batch(handle, batch_size, rows, row_size)
    head = LogProbHead(handle.model)
    device = model_device(handle.model)  # split models: the input embedding's device
    batches = [rows[start:start + rows_per_batch] for start in range(0, len(rows), rows_per_batch)]
    mine = shard(batches) if sharded else batches  # under accelerate launch: this process's batches
    results: dict[int, np.ndarray] = {}
    with progress_bar(progress, description, sum(len(r.members) for b in mine for r in b)) as shown, torch.inference_mode():
        for batch in mine:
            width = max(len(r.tokens) for r in batch)
            ids = np.full((len(batch), width), handle.prefix_token_id, dtype=np.int64)
            depths = np.full((len(batch), width), -1, dtype=np.int64)
            for b, row in enumerate(batch):
                ids[b, :len(row.tokens)] = row.tokens
                depths[b, :len(row.tokens)] = row.depths
            nodes, targets, owners, counts = _requests(batch, full, contexts, width)
            depth_t = torch.from_numpy(depths).to(device)
            mask = tree_attention_mask(depth_t, handle.model.dtype)
            features = head.features(torch.from_numpy(ids).to(device), mask, depth_t.clamp(min=0))
            lp = head.logprobs(
                features.reshape(-1, features.shape[-1]), torch.from_numpy(nodes).to(device), torch.from_numpy(targets).to(device),
            )
            for i, piece in zip(owners, np.split(lp.double().cpu().numpy(), np.cumsum(counts)[:-1])):
                results[i] = piece
            shown.advance(len(owners))
    if sharded:
        results = gather(results)
    return [results[i] for i in range(len(sequences))]


def packed_rows_per_batch(handle: ModelHandle, batch_size: BatchSize, rows: list[TreeRow], row_size: int) -> int:
    """Packed rows per forward pass: ``batch_size // row_size``, or (``auto``) as many as fit at the widest row."""
    if batch_size == AUTO:
        widest = max((len(r.tokens) for r in rows), default=1)
        return resolve_batch_size(handle, AUTO, item_tokens=widest, ceiling=len(rows))
    return max(1, int(batch_size) // max(1, row_size))


def _requests(batch: list[TreeRow], full: list[list[int]], contexts: list[int], width: int) -> tuple[np.ndarray, np.ndarray, list[int], list[int]]:
    """For every scored token: the flat index of the node whose logits predict it, and the token."""
    nodes, targets, owners, counts = [], [], [], []
    for b, row in enumerate(batch):
        for k, i in enumerate(row.members.tolist()):
            first = 1 + contexts[i]
            nodes.append(b * width + row.paths[k, first - 1:row.lengths[k] - 1])
            targets.append(np.asarray(full[i][first:], dtype=np.int64))
            owners.append(i)
            counts.append(int(row.lengths[k]) - first)
    return np.concatenate(nodes), np.concatenate(targets), owners, counts


def tree_attention_mask(depths: Any, dtype: Any) -> Any:
    """Additive ``[batch, 1, T, T]`` mask: node ``q`` sees node ``k`` iff ``k`` is an ancestor of ``q`` or ``q``.

    In pre-order, ``k``'s subtree is the run of nodes after ``k`` deeper than ``k``; it ends at the
    first later node whose depth is not greater (padding has depth -1, so it ends every run and
    each padding position sees only itself).
    """
    import torch

    width = depths.shape[1]
    index = torch.arange(width, device=depths.device)
    later = (index[None, None, :] > index[None, :, None]) & (depths[:, None, :] <= depths[:, :, None])  # [b, k, q]
    ends = torch.where(later.any(-1), later.to(torch.uint8).argmax(-1), torch.full_like(depths, width))
    allowed = (index[None, None, :] <= index[None, :, None]) & (index[None, :, None] < ends[:, None, :])  # [b, q, k]
    mask = torch.zeros(allowed.shape, dtype=dtype, device=depths.device)
    return mask.masked_fill_(~allowed, torch.finfo(dtype).min).unsqueeze(1)


def packing_supported(handle: ModelHandle) -> bool:
    """Whether the model honours the tree mask (checked once per model against the plain scorer)."""
    cached = _PACKING_OK.get(handle.model)
    if cached is not None:
        return cached
    ok = _check_packing(handle)
    _PACKING_OK[handle.model] = ok
    return ok


def _check_packing(handle: ModelHandle) -> bool:
    import torch

    vocab = handle.model.get_input_embeddings().weight.shape[0]
    probe = [[1, 2, 3, 4, 5], [1, 2, 6, 7], [1, 2, 3, 8]]
    probe = [[t % vocab for t in seq] for seq in probe]
    try:
        packed = _packed(handle, probe, [0, 0, 1], 64, ROW_SIZE, None, "probe", sharded=False)
    except (RuntimeError, ValueError, TypeError):
        return False
    plain = sentence_logprobs(handle, probe, [0, 0, 1], sharded=False)
    tolerance = 1e-3 if handle.model.dtype == torch.float32 else 5e-2
    return all(np.abs(a - b).max() <= tolerance for a, b in zip(packed, plain))
