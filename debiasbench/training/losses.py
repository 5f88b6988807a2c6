"""The unlearning objectives (docs/concepts.md, "Unlearning methods"), as pure functions of per-token log-probabilities.

Every function is minimised. ``lp`` is (B, T): ``lp[b, i] = log p_theta(x_i | p, x_<i)``;
``mask`` (B, T, bool) marks the positions that count (selected tokens for the forget terms, real
tokens for the retain terms). Each is unit-tested against hand-computed values.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def selected_mean_logprob(lp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per text ``(1/|M|) sum_{i in M} lp_i`` (B,); texts without selected tokens give 0."""
    picked = torch.where(mask, lp, torch.zeros_like(lp))
    return picked.sum(dim=1) / mask.sum(dim=1).clamp(min=1).to(lp.dtype)


def ga_loss(lp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``mlm-unlearn`` / ``token-ga``: ``L = (1/|M|) sum_{i in M} log p_theta(x_i | x_<i)`` per text,
    averaged over the texts of the batch. Minimising it is gradient ascent on the NLL."""
    return selected_mean_logprob(lp, mask).mean()


def nll_loss(lp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood per token over all masked tokens of the batch (retain term of
    ``grad-diff``)."""
    picked = torch.where(mask, lp, torch.zeros_like(lp))
    return -picked.sum() / mask.sum().clamp(min=1).to(lp.dtype)


def kl_loss(logits_theta: torch.Tensor, logits_ref: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``KL(p_ref || p_theta)`` over the vocabulary at each masked position, averaged over those
    positions (retain term of ``kl``). Logits are (B, T, V)."""
    log_theta = torch.log_softmax(logits_theta.float(), dim=-1)
    log_ref = torch.log_softmax(logits_ref.float(), dim=-1)
    per_position = F.kl_div(log_theta, log_ref, log_target=True, reduction="none").sum(dim=-1)
    picked = torch.where(mask, per_position, torch.zeros_like(per_position))
    return picked.sum() / mask.sum().clamp(min=1).to(per_position.dtype)


def sequence_logprob(lp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``log p(y)`` per text: the sum of the masked tokens' log-probabilities (B,)."""
    return torch.where(mask, lp, torch.zeros_like(lp)).sum(dim=1)


def npo_loss(seq_lp_theta: torch.Tensor, seq_lp_ref: torch.Tensor, beta: float) -> torch.Tensor:
    """NPO (Zhang et al. 2024): ``-(2/beta) log sigmoid(-beta (log p_theta(y) - log p_ref(y)))``,
    averaged over the texts of the batch. Equals ``(2/beta) log 2`` while theta == ref."""
    return (-(2.0 / beta) * F.logsigmoid(-beta * (seq_lp_theta - seq_lp_ref))).mean()
