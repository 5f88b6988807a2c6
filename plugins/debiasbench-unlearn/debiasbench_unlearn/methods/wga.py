"""``wga``: weighted gradient ascent (Wang et al. 2025, "Rethinking LLM Unlearning Objectives: A
Gradient Perspective and Go Beyond"), gradient ascent whose per-token weight is the token's own
probability, so tokens already forgotten stop pulling.

Over the selected tokens ``M`` of the batch, with ``p_i = p_theta(x_i | x_<i)`` and the weight
``w_i = p_i^beta`` detached (no gradient flows through it)::

    L_forget = (1/|M|) sum_{i in M} w_i log p_i

the token mean over the batch, as open-unlearning's ``compute_wga_loss``. Minimised:
``L_forget + alpha * NLL(retain)``. Defaults are open-unlearning's ``configs/trainer/WGA.yaml``:
``beta = 1``, ``alpha = 1``.
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
class WGAOptions(SelectiveOptions):
    beta: float = option(1.0, "exponent of the per-token weight p^beta (open-unlearning WGA.yaml)")
    alpha: float = option(1.0, "weight of the retain NLL term; 0: no retain term")

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("beta", "alpha"):
            check_range(self, name, at_least=0)


def wga_loss(lp: Tensor, mask: Tensor, beta: float) -> Tensor:
    """``(1/|M|) sum_{i in M} p_i^beta log p_i`` with the weight detached; ``lp`` (B, T)."""
    weight = lp.detach().exp() ** beta
    return token_mean(weight * lp, mask)


@dataclass
class WGALoss(UnlearningLoss):
    """Probability-weighted gradient ascent on the selected tokens, no retain term."""

    forget_mean = "tokens"  # token_mean over the batch

    beta: float = 1.0

    def forget(self, batch: TextBatch) -> Tensor:
        return wga_loss(batch.logprobs(), batch.mask, self.beta)


class WGAWithRetain(RetainNLLTerm, WGALoss):
    """WGA + ``alpha`` x token-mean NLL of a retain batch."""


class WGA(OptionalRetainMethod):
    """Gradient ascent on the selected tokens, each weighted by its detached probability^beta."""

    name = "wga"
    description = "weighted gradient ascent (Wang et al. 2025): selected-token ascent weighted by p^beta + alpha * retain NLL"
    Options = WGAOptions
    Loss = WGAWithRetain
    ForgetOnly = WGALoss
    presets = quick()
