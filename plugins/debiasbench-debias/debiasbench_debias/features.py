"""Sentence representations at the input of the output layer (what INLP and SentenceDebias project).

bias-bench hooks GPT-2's ``transformer`` output, ``last_hidden_state`` after the final layer norm:
exactly what ``lm_head`` reads. Here that input is captured with a forward pre-hook on the model's
output embeddings, so any causal LM works. Each sentence is read as ``[p, t_1..t_n]`` (the model's
prefix token, as the metrics score it) and pooled over its own tokens ``t_1..t_n``: the mean
(bias-bench) or the last token. The hook stops the forward pass there, so no logits are computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from debiasbench import api
from debiasbench.api import DebiasbenchError, ModelHandle

Pool = Literal["mean", "final"]


class _Reached(Exception):
    """Raised by the hook once the output layer's input is stored: the rest of the forward is not needed."""


def _captured_input(model: Any) -> tuple[Any, dict[str, Any]]:
    """A pre-hook on the output layer that stores its input and stops the forward pass; remove the
    returned handle afterwards."""
    store: dict[str, Any] = {}
    head = model.get_output_embeddings()
    if head is None:
        raise DebiasbenchError("this model has no output layer (get_output_embeddings() is None); it cannot be projected")

    def hook(module: Any, args: Any) -> None:
        store["hidden"] = args[0]
        raise _Reached

    return head.register_forward_pre_hook(hook), store


def final_hidden_states(handle: ModelHandle, texts: Sequence[str], *, pool: Pool = "mean", batch_size: int = 32,
                        max_length: int = 128) -> Any:
    """``[len(texts), hidden]`` float64 numpy array of pooled output-layer inputs (no gradient)."""
    import numpy as np
    import torch

    if not texts:
        raise DebiasbenchError("no sentences to read representations from")
    limit = max(1, min(max_length, handle.max_length) - 1)
    encoded = handle.tokenizer(list(texts), add_special_tokens=False, truncation=True, max_length=limit)["input_ids"]
    ids_list = [list(ids) or [handle.prefix_token_id] for ids in encoded]
    device = api.lm.model_device(handle.model)
    hook, store = _captured_input(handle.model)
    out = []
    try:
        with torch.inference_mode():
            for start in range(0, len(ids_list), batch_size):
                ids, attn = api.lm.collate(ids_list[start:start + batch_size], handle.prefix_token_id, device)
                try:
                    handle.model(input_ids=ids, attention_mask=attn, use_cache=False)
                except _Reached:
                    pass
                out.append(_pool(store.pop("hidden")[:, 1:].double(), attn[:, 1:].double(), pool).cpu().numpy())
    finally:
        hook.remove()
    return np.concatenate(out, axis=0)


def _pool(hidden: Any, mask: Any, pool: Pool) -> Any:
    """Masked mean over the sentence tokens, or the hidden state of the last one."""
    if pool == "mean":
        return (hidden * mask[..., None]).sum(dim=1) / mask.sum(dim=1, keepdim=True).clamp(min=1)
    import torch

    last = (mask.sum(dim=1).long() - 1).clamp(min=0)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
