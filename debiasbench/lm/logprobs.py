"""Batched token log-probabilities with one prefix token as context (docs/concepts.md, "Sentence scoring").

Sequences are right-padded: a causal model never attends to padding on its right, and the
default position ids of the real tokens stay 0..n, so a batched score equals a lone one.
Under ``accelerate launch`` each process scores its share of the batches and all get every result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from debiasbench.runtime.distributed import gather, shard


def model_device(model: Any) -> torch.device:
    """Where inputs must go: the input embedding's device.

    A model split with ``device_map="auto"`` spans several devices; its input ids must be on the
    device of the first layer, the embedding (accelerate's hooks move activations between layers
    and return the output on the input's device). An embedding offloaded by accelerate (weights on
    ``meta``) runs on its hook's ``execution_device``. Without an embedding: the first parameter's device.
    """
    try:
        embeddings = model.get_input_embeddings()
    except (AttributeError, NotImplementedError):
        embeddings = None
    hook = getattr(embeddings, "_hf_hook", None)
    if getattr(hook, "execution_device", None) is not None:
        return torch.device(hook.execution_device)
    weight = getattr(embeddings, "weight", None)
    if isinstance(weight, torch.Tensor) and weight.device.type != "meta":
        return weight.device
    return next(model.parameters()).device


def collate(seqs: Sequence[Sequence[int]], prefix_id: int, device: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``[p, t_1..t_n]`` per sequence, right-padded, and the attention mask."""
    width = 1 + max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), prefix_id, dtype=torch.long)
    attn = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        ids[row, 1:1 + len(seq)] = torch.as_tensor(list(seq), dtype=torch.long)
        attn[row, :1 + len(seq)] = 1
    return ids.to(device), attn.to(device)


def pad_masks(masks: Sequence[Sequence[bool]], width: int, device: Any) -> torch.Tensor:
    """Per-token booleans as a (B, width) tensor aligned with the predicted tokens, padded False."""
    out = torch.zeros((len(masks), width), dtype=torch.bool)
    for row, mask in enumerate(masks):
        out[row, :len(mask)] = torch.as_tensor(list(mask), dtype=torch.bool)
    return out.to(device)


def logits_of(model: Any, ids: torch.Tensor, attn: torch.Tensor) -> torch.Tensor:
    """Float32 next-token logits for positions 0..n-1 (the ones that predict t_1..t_n)."""
    return model(input_ids=ids, attention_mask=attn).logits[:, :-1].float()


def target_logprobs(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """``lp[b, i] = log P(t_{i+1} | p, t_1..t_i)``: (B, T) from (B, T, V) logits and (B, 1+T) ids."""
    return torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)


def _batches(seqs: Sequence[Sequence[int]], batch_size: int) -> list[list[int]]:
    order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


@torch.no_grad()
def token_logprobs(model: Any, seqs: Sequence[Sequence[int]], prefix_id: int, batch_size: int = 16) -> list[Any]:
    """Each sequence's per-token log-probabilities (numpy arrays), scored in length-sorted batches."""
    device = model_device(model)
    out: dict[int, Any] = {}
    for batch in shard(_batches(seqs, batch_size)):
        ids, attn = collate([seqs[i] for i in batch], prefix_id, device)
        lp = target_logprobs(logits_of(model, ids, attn), ids).cpu().numpy()
        for row, index in enumerate(batch):
            out[index] = lp[row, :len(seqs[index])]
    out = gather(out)
    return [out[i] for i in range(len(seqs))]


@torch.no_grad()
def mean_nll(model: Any, seqs: Sequence[Sequence[int]], masks: Sequence[Sequence[bool]], prefix_id: int,
             batch_size: int = 16) -> float:
    """Mean negative log-likelihood over the masked tokens of all sequences (perplexity = exp)."""
    device = model_device(model)
    batches = _batches(seqs, batch_size)
    sums: dict[int, tuple[float, int]] = {}
    for b in shard(range(len(batches))):
        batch = batches[b]
        ids, attn = collate([seqs[i] for i in batch], prefix_id, device)
        mask = pad_masks([masks[i] for i in batch], ids.shape[1] - 1, device)
        lp = target_logprobs(logits_of(model, ids, attn), ids)
        sums[b] = (float(-torch.where(mask, lp, 0.0).sum()), int(mask.sum()))
    sums = gather(sums)
    total, count = 0.0, 0
    for b in range(len(batches)):  # added in batch order: the same float as one process
        total += sums[b][0]
        count += sums[b][1]
    return total / max(count, 1)
