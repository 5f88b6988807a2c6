"""From a causal LM's final hidden states to ``log P(target | position)``, chunk by chunk.

A batch of sentences produces ``[batch, length, vocab]`` logits (430 MB for 64 CrowS sentences
and SmolLM2's 49k vocabulary); materialising, copying and log-softmaxing that tensor took a
third of the scoring time. Instead the base model returns hidden states, and the output layer
runs only on the positions that predict a scored token, a block of rows against one slice of
the vocabulary at a time, folded into a running log-sum-exp while the slice is still in cache.

Models whose forward does more than ``lm_head(hidden)`` (logit soft-capping, scaling) are
detected once per model by comparing with the full forward, and then scored from the full
logits instead: the result is always the model's own log-softmax.
"""

from __future__ import annotations

import weakref
from typing import Any

_FAST_PATH: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()
_CPU_CHUNK_ELEMENTS = 8 << 20  # 32 MiB of float32 logits (heads that are not a plain linear layer)
_CPU_BLOCK = (4096, 512)  # rows x vocabulary columns per matmul on CPU: fastest measured (see _streamed_logprobs)
_GPU_CHUNK_ELEMENTS = 256 << 20


class LogProbHead:
    """``features()`` runs the network; ``logprobs()`` turns selected positions into log-probabilities."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.fast = fast_path_ok(model)

    def features(self, input_ids: Any, attention_mask: Any, position_ids: Any) -> Any:
        """``[batch, length, F]``: hidden states (fast path) or logits (fallback)."""
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask, "position_ids": position_ids, "use_cache": False}
        if self.fast:
            return self.model.base_model(**kwargs).last_hidden_state
        return self.model(**kwargs).logits

    def logprobs(self, features: Any, nodes: Any, targets: Any) -> Any:
        """``log P(targets[r] | position nodes[r])`` in float32; ``features`` is ``[N, F]``, ``nodes`` index it.

        Each distinct position is projected to the vocabulary once, however many requests share it.
        """
        import torch

        head = self.model.get_output_embeddings() if self.fast else None
        # A model split by a device map: the hidden states leave the last layer on its device, the
        # output layer may sit on another, and the caller's indices are on the input device.
        where = head.weight.device if head is not None and head.weight.device.type != "meta" else features.device
        features, nodes, targets = features.to(where), nodes.to(where), targets.to(where)
        unique, inverse = torch.unique(nodes, return_inverse=True)
        budget = _GPU_CHUNK_ELEMENTS if features.device.type == "cuda" else _CPU_CHUNK_ELEMENTS
        if _plain_float32_linear(head) and head.weight.device.type != "meta":  # meta: offloaded, only its module can run it
            vocab = head.weight.shape[0]
            block = _CPU_BLOCK if features.device.type == "cpu" else (max(256, budget // vocab), vocab)
            return _streamed_logprobs(features, unique, head.weight, inverse, targets, block)
        return _chunked_logprobs(features, unique, head, inverse, targets, budget)


def _plain_float32_linear(head: Any) -> bool:
    import torch

    return isinstance(head, torch.nn.Linear) and head.weight.dtype == torch.float32 and head.bias is None


def _requests_by_row(inverse: Any) -> tuple[Any, Any]:
    """Request indices ordered by the row they read, and that order's row ids (for ``searchsorted``)."""
    import torch

    order = torch.argsort(inverse, stable=True)
    return order, inverse[order]


def _span(sorted_values: Any, low: int, high: int) -> tuple[int, int]:
    """Index range of ``sorted_values`` in ``[low, high)``."""
    import torch

    bounds = torch.searchsorted(sorted_values, torch.tensor([low, high], device=sorted_values.device, dtype=sorted_values.dtype))
    return int(bounds[0]), int(bounds[1])


def _streamed_logprobs(features: Any, unique: Any, weight: Any, inverse: Any, targets: Any, block: tuple[int, int]) -> Any:
    """Log-probabilities from a plain linear head, streaming the vocabulary in slices.

    Request ``r`` reads row ``features[unique[inverse[r]]]``; rows are gathered one block at a time.

    A block of up to ``block[0]`` rows meets ``block[1]`` rows of the output matrix at a time and
    folds them into a running log-sum-exp. On a 2-core CPU, 1,000 rows against 512-column slices
    ran at ~125 GFLOP/s including the reduction, against ~95 for 170 rows times the whole 49k
    vocabulary (the slice and its logits stay in cache); a GPU takes the whole vocabulary. Each
    target's logit is read from the slice that holds it, so it is the matmul's own value. One
    reused buffer: a fresh multi-MiB tensor per slice costs page faults on CPU.
    """
    import torch

    vocab, device = weight.shape[0], features.device
    result = torch.empty(inverse.shape[0], dtype=torch.float32, device=device)
    order, row_of = _requests_by_row(inverse)
    block_rows, width = min(unique.shape[0], block[0]), min(vocab, block[1])
    buffer = torch.empty(block_rows * width, dtype=torch.float32, device=device)
    for r0 in range(0, unique.shape[0], block_rows):
        part = features[unique[r0:r0 + block_rows]]
        n = part.shape[0]
        lo, hi = _span(row_of, r0, r0 + n)
        wanted = order[lo:hi]
        local, wanted_targets = inverse[wanted] - r0, targets[wanted]
        by_target = torch.argsort(wanted_targets)
        sorted_targets = wanted_targets[by_target]
        target_logits = torch.empty(wanted.shape[0], dtype=torch.float32, device=device)
        running_max = torch.full((n,), float("-inf"), device=device)
        running_sum = torch.zeros(n, device=device)
        for v0 in range(0, vocab, width):
            v1 = min(v0 + width, vocab)
            logits = torch.mm(part, weight[v0:v1].t(), out=buffer[:n * (v1 - v0)].view(n, v1 - v0))
            t_lo, t_hi = _span(sorted_targets, v0, v1)
            hit = by_target[t_lo:t_hi]
            target_logits[hit] = logits[local[hit], wanted_targets[hit] - v0]
            new_max = torch.maximum(running_max, logits.amax(dim=-1))
            running_sum.mul_(torch.exp(running_max - new_max)).add_(logits.sub_(new_max[:, None]).exp_().sum(dim=-1))
            running_max = new_max
        result[wanted] = target_logits - (running_sum.log() + running_max)[local]
    return result


def _chunked_logprobs(features: Any, unique: Any, head: Any, inverse: Any, targets: Any, budget: int) -> Any:
    """Any head (or ``features`` already logits when ``head`` is None): a few hundred rows of full logits at a time."""
    import torch

    result = torch.empty(inverse.shape[0], dtype=torch.float32, device=features.device)
    order, row_of = _requests_by_row(inverse)
    vocab = head.weight.shape[0] if head is not None else features.shape[-1]
    step = max(8, budget // vocab)
    for start in range(0, unique.shape[0], step):
        chunk = features[unique[start:start + step]]
        logits = (head(chunk) if head is not None else chunk).float()
        lo, hi = _span(row_of, start, start + chunk.shape[0])
        wanted = order[lo:hi]
        local = inverse[wanted] - start
        lse = torch.logsumexp(logits, dim=-1)
        result[wanted] = logits[local, targets[wanted]] - lse[local]
    return result


def fast_path_ok(model: Any) -> bool:
    """Whether ``lm_head(base_model(x))`` reproduces the model's logits (checked once per model).

    A model that changes its output distribution beyond the output layer (a decoding-time
    debiasing wrapper) says so with ``debiasbench_full_logits_only`` and is scored from its logits."""
    if getattr(model, "debiasbench_full_logits_only", False):
        return False
    cached = _FAST_PATH.get(model)
    if cached is not None:
        return cached
    ok = _check_fast_path(model)
    _FAST_PATH[model] = ok
    return ok


def _check_fast_path(model: Any) -> bool:
    import torch

    base, head = getattr(model, "base_model", None), model.get_output_embeddings()
    if base is None or base is model or head is None:
        return False
    from debiasbench.api.lm import model_device

    param = next(model.parameters())
    vocab = head.weight.shape[0]
    ids = (torch.arange(1, 9, device=model_device(model)) % vocab).unsqueeze(0)
    with torch.inference_mode():
        try:
            full = model(input_ids=ids, use_cache=False).logits.float().log_softmax(-1)
            ours = head(base(input_ids=ids, use_cache=False).last_hidden_state).float().log_softmax(-1).to(full.device)
        except (TypeError, AttributeError, RuntimeError):
            return False
    tolerance = 1e-3 if param.dtype == torch.float32 else 5e-2
    return bool((full - ours).abs().max() <= tolerance)
