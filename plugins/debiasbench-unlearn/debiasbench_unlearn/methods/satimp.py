"""``satimp``: saturation and importance weighted gradient ascent (Yang et al. 2025, "Exploring
Criteria of Loss Reweighting to Enhance LLM Unlearning").

Each selected token's ascent is weighted by a *saturation* factor ``p_i^beta1`` (tokens the model
still predicts well, as in WGA) times an *importance* factor ``(1 - p_i)^beta2`` (tokens that are
not already near-certain), both detached, as open-unlearning's ``compute_satimp_loss``::

    L_forget = (1/|M|) sum_{i in M} p_i^beta1 (1 - p_i)^beta2 log p_i

(token mean over the selected tokens ``M`` of the batch). Minimised:
``forget_weight * L_forget + alpha * NLL(retain)``. Defaults are open-unlearning's
``configs/trainer/SatImp.yaml``: ``beta1 = 5``, ``beta2 = 1``, forget weight 0.1 (its ``gamma``),
``alpha = 1``. (Its class defaults, forget weight 1 and ``alpha = 0.1``, are the paper's setting
for its ES metric; ``-o forget_weight=1 -o alpha=0.1`` gives that.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from debiasbench.api import check_range, option
from debiasbench.api.training import SelectiveOptions, UnlearningLoss
from debiasbench_unlearn.methods.common import (
    OptionalRetainMethod,
    RetainNLLTerm,
    quick,
    token_mean,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from torch import Tensor

    from debiasbench.api.training import TextBatch


@dataclass
class SatImpOptions(SelectiveOptions):
    beta1: float = option(5.0, "exponent of the saturation weight p^beta1 (open-unlearning SatImp.yaml)")
    beta2: float = option(1.0, "exponent of the importance weight (1-p)^beta2 (open-unlearning SatImp.yaml)")
    forget_weight: float = option(0.1, "weight of the forget term (open-unlearning's gamma)")
    alpha: float = option(1.0, "weight of the retain NLL term; 0: no retain term")

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("beta1", "beta2", "alpha"):
            check_range(self, name, at_least=0)
        check_range(self, "forget_weight", above=0)


def satimp_loss(lp: Tensor, mask: Tensor, beta1: float, beta2: float) -> Tensor:
    """``(1/|M|) sum_{i in M} p_i^beta1 (1-p_i)^beta2 log p_i``, weights detached; ``lp`` (B, T)."""
    p = lp.detach().exp()
    weight = p ** beta1 * (1.0 - p) ** beta2
    return token_mean(weight * lp, mask)


@dataclass
class SatImpLoss(UnlearningLoss):
    """Saturation x importance weighted gradient ascent on the selected tokens, no retain term."""

    forget_mean = "tokens"  # token_mean over the batch

    beta1: float = 5.0
    beta2: float = 1.0
    forget_weight: float = 0.1

    def forget(self, batch: TextBatch) -> Tensor:
        return self.forget_weight * satimp_loss(batch.logprobs(), batch.mask, self.beta1, self.beta2)


class SatImpWithRetain(RetainNLLTerm, SatImpLoss):
    """SatImp + ``alpha`` x token-mean NLL of a retain batch."""


class SatImp(OptionalRetainMethod):
    """Gradient ascent on the selected tokens weighted by p^beta1 (1-p)^beta2."""

    name = "satimp"
    description = "SatImp (Yang et al. 2025): selected-token ascent weighted by p^beta1 (1-p)^beta2 + alpha * retain NLL"
    Options = SatImpOptions
    Loss = SatImpWithRetain
    ForgetOnly = SatImpLoss
    presets = quick()
