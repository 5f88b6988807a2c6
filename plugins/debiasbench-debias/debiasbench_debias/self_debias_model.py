"""Self-debiasing (Schick et al. 2021) as a model: ``forward`` returns the debiased next-token log-probabilities.

For every position the model is also run with a bias-describing prefix ``y`` inserted after the
row's first token (the model's prefix token ``p`` in every debiasbench scorer, so the prefixed row
reads ``p, y, t_1..t_n`` as bias-bench reads ``y, t_1..t_n``). With ``p(w|x)`` the regular and
``p(w|y,x)`` the prefixed next-token distribution (Schick et al., eq. 3-5)::

    delta(w)  = max(0, max_y p(w|y,x) - p(w|x))
    alpha(w)  = max(exp(-lambda * delta(w)), epsilon)
    p~(w|x)   = alpha(w) p(w|x) / sum_v alpha(v) p(v|x)

The paper writes ``alpha(d) = 1 for d >= 0, exp(lambda d) otherwise`` with ``d = p(w|x) - max_y
p(w|y,x)``, which is the first two lines; the floor ``epsilon`` (never scale a probability by less
than 0.01) is the authors' code's, which bias-bench uses with ``lambda = 50``.

Regular and prefixed rows run in the same forward pass (a few rows at a time, to bound the logits'
memory). Custom 4-D attention masks (the metrics' shared-prefix packing) are extended to the
prefix, so packed and plain scoring agree. The wrapper has no plain output layer
(``get_output_embeddings()`` is None) and says ``debiasbench_full_logits_only``: a scorer must read
its logits, never ``lm_head(hidden)``.
"""

from __future__ import annotations

from typing import Any

import torch

from debiasbench.api import DebiasbenchError
from debiasbench.api.lm import model_device

LOGITS_BUDGET = 1 << 27
"""Logit elements (float32: 512 MiB) one forward pass may produce; more rows are run in turn."""


def self_debiased_logprobs(regular: torch.Tensor, biased: torch.Tensor, decay: float, epsilon: float) -> torch.Tensor:
    """``log p~(w|x)`` from regular logits ``[..., V]`` and biased logits ``[n_prefixes, ..., V]``."""
    logp = torch.log_softmax(regular.float(), dim=-1)
    biased_p = torch.softmax(biased.float(), dim=-1).amax(dim=0)
    delta = (biased_p - logp.exp()).clamp(min=0.0)
    log_alpha = torch.clamp(-decay * delta, min=float(torch.log(torch.tensor(epsilon))))
    scaled = logp + log_alpha
    return scaled - torch.logsumexp(scaled, dim=-1, keepdim=True)


def _insert_2d(values: torch.Tensor, middle: torch.Tensor) -> torch.Tensor:
    """``[v_0, middle, v_1..]`` per row."""
    return torch.cat([values[:, :1], middle, values[:, 1:]], dim=1)


def _prefixed_mask_4d(mask: torch.Tensor, n: int) -> torch.Tensor:
    """An additive ``[B, 1, T, T]`` mask extended by ``n`` prefix positions inserted after position 0:
    the prefix sees position 0 and itself causally; every later position sees the whole prefix."""
    B, _, T, _ = mask.shape
    low = torch.finfo(mask.dtype).min
    out = torch.full((B, 1, T + n, T + n), low, dtype=mask.dtype, device=mask.device)
    old = torch.cat([torch.zeros(1, dtype=torch.long), torch.arange(n + 1, n + T)]).to(mask.device)
    out[:, :, old[:, None], old[None, :]] = mask
    causal = torch.ones(n, n, dtype=torch.bool, device=mask.device).tril()
    out[:, :, 1:n + 1, 1:n + 1] = torch.where(causal, 0.0, low).to(mask.dtype)
    out[:, :, 1:n + 1, 0] = 0
    out[:, :, n + 1:, 1:n + 1] = 0
    return out


def _padded_mask_4d(mask: torch.Tensor, n: int) -> torch.Tensor:
    """``mask`` with ``n`` padding positions at the end that see only themselves."""
    B, _, T, _ = mask.shape
    out = torch.full((B, 1, T + n, T + n), torch.finfo(mask.dtype).min, dtype=mask.dtype, device=mask.device)
    out[:, :, :T, :T] = mask
    tail = torch.arange(T, T + n, device=mask.device)
    out[:, :, tail, tail] = 0
    return out


def paired_inputs(prefix: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor | None,
                  positions: torch.Tensor | None) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Regular rows (right-padded by the prefix length) and prefixed rows, both ``T + n`` wide."""
    B, T = ids.shape
    n = prefix.shape[0]
    if positions is None:
        positions = torch.arange(T, device=ids.device).expand(B, T)
    if mask is None:
        mask = torch.ones_like(ids)
    steps = positions[:, :1] + torch.arange(1, n + 1, device=ids.device)
    prefixed = {"input_ids": _insert_2d(ids, prefix.expand(B, n)),
                "position_ids": torch.cat([positions[:, :1], steps, positions[:, 1:] + n], dim=1)}
    regular = {"input_ids": torch.cat([ids, ids[:, -1:].expand(B, n)], dim=1),
               "position_ids": torch.cat([positions, positions[:, -1:].expand(B, n)], dim=1)}
    if mask.dim() == 4:
        prefixed["attention_mask"], regular["attention_mask"] = _prefixed_mask_4d(mask, n), _padded_mask_4d(mask, n)
    else:
        prefixed["attention_mask"] = _insert_2d(mask, torch.ones((B, n), dtype=mask.dtype, device=mask.device))
        regular["attention_mask"] = torch.cat([mask, torch.zeros((B, n), dtype=mask.dtype, device=mask.device)], dim=1)
    return regular, prefixed


class SelfDebiasingLM(torch.nn.Module):
    """A causal LM whose logits are the self-debiased log-probabilities (see the module docstring)."""

    debiasbench_full_logits_only = True
    """Scorers must use this model's full logits (a fast path reading ``lm_head`` would skip the debiasing)."""

    def __init__(self, model: Any, prefix_ids: list[int], decay: float, epsilon: float) -> None:
        super().__init__()
        if not prefix_ids:
            raise DebiasbenchError("the self-debiasing prefix has no tokens")
        self.lm = model
        self.decay, self.epsilon = float(decay), float(epsilon)
        self.register_buffer("prefix", torch.tensor(prefix_ids, dtype=torch.long, device=model_device(model)), persistent=False)

    @property
    def config(self) -> Any:
        return self.lm.config

    @property
    def device(self) -> torch.device:
        return model_device(self.lm)  # where inputs go, also for a model split by a device map

    @property
    def dtype(self) -> torch.dtype:
        return self.lm.dtype

    def get_input_embeddings(self) -> Any:
        return self.lm.get_input_embeddings()

    def get_output_embeddings(self) -> None:
        """None: the debiased distribution is not a linear layer of one hidden state."""
        return None

    def save_pretrained(self, *args: Any, **kwargs: Any) -> None:
        raise DebiasbenchError("--save-model: self-debias changes decoding, not weights, and a saved folder would load as the "
                               "undebiased model, so it is not saved (the run's results are written)")

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                position_ids: torch.Tensor | None = None, **kwargs: Any) -> Any:
        from transformers.modeling_outputs import CausalLMOutput

        regular, prefixed = paired_inputs(self.prefix, input_ids, attention_mask, position_ids)
        B, T = input_ids.shape
        n, width = self.prefix.shape[0], T + self.prefix.shape[0]
        vocab = self.lm.get_input_embeddings().weight.shape[0]
        rows = max(1, LOGITS_BUDGET // (2 * width * vocab))
        parts = []
        for start in range(0, B, rows):
            stop = min(start + rows, B)
            batch = {k: torch.cat([regular[k][start:stop], prefixed[k][start:stop]]) for k in regular}
            logits = self.lm(**batch, use_cache=False).logits
            m = stop - start
            parts.append(self_debiased_logprobs(logits[:m, :T], logits[m:, n:n + T][None], self.decay, self.epsilon))
        return CausalLMOutput(logits=torch.cat(parts))
