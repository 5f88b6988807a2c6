"""From a causal LM's final hidden states to ``log P(target | position)``, chunk by chunk.

A batch of sentences produces ``[batch, length, vocab]`` logits (430 MB for 64 CrowS sentences
and SmolLM2's 49k vocabulary); materialising, copying and log-softmaxing that tensor took a
third of the scoring time. Instead the base model returns hidden states, and the output layer
runs only on the positions that predict a scored token, a few hundred rows at a time, each
chunk reduced to a log-sum-exp and the target logits while it is still in cache.

Models whose forward does more than ``lm_head(hidden)`` (logit soft-capping, scaling) are
detected once per model by comparing with the full forward, and then scored from the full
logits instead: the result is always the model's own log-softmax.
"""

from __future__ import annotations

import weakref
from typing import Any

_FAST_PATH: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()
_CPU_CHUNK_ELEMENTS = 8 << 20  # 32 MiB of float32 logits: stays in a CPU's last-level cache
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

        unique, inverse = torch.unique(nodes, return_inverse=True)
        order = torch.argsort(inverse, stable=True)
        inverse_sorted = inverse[order]
        result = torch.empty(nodes.shape[0], dtype=torch.float32, device=features.device)
        head = self.model.get_output_embeddings() if self.fast else None
        vocab = head.weight.shape[0] if head is not None else features.shape[-1]
        budget = _GPU_CHUNK_ELEMENTS if features.device.type == "cuda" else _CPU_CHUNK_ELEMENTS
        rows = max(8, budget // vocab)
        for start in range(0, unique.shape[0], rows):
            stop = min(start + rows, unique.shape[0])
            chunk = features[unique[start:stop]]
            logits = (head(chunk) if head is not None else chunk).float()
            lse = torch.logsumexp(logits, dim=-1)
            bounds = torch.searchsorted(inverse_sorted, torch.tensor([start, stop], device=inverse_sorted.device))
            wanted = order[int(bounds[0]):int(bounds[1])]
            local = inverse[wanted] - start
            result[wanted] = logits[local, targets[wanted]] - lse[local]
        return result


def fast_path_ok(model: Any) -> bool:
    """Whether ``lm_head(base_model(x))`` reproduces the model's logits (checked once per model)."""
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
    param = next(model.parameters())
    vocab = head.weight.shape[0]
    ids = (torch.arange(1, 9, device=param.device) % vocab).unsqueeze(0)
    with torch.inference_mode():
        try:
            full = model(input_ids=ids, use_cache=False).logits.float().log_softmax(-1)
            ours = head(base(input_ids=ids, use_cache=False).last_hidden_state).float().log_softmax(-1)
        except (TypeError, AttributeError, RuntimeError):
            return False
    tolerance = 1e-3 if param.dtype == torch.float32 else 5e-2
    return bool((full - ours).abs().max() <= tolerance)
