"""``simnpo``: SimNPO (Fan et al. 2024, "Simplicity Prevails: Rethinking Negative Preference
Optimization for LLM Unlearning"), NPO without a reference model and normalised by length.

Per forget text, over its selected tokens ``M`` (``|y| = |M|``), the paper's eq. (4)::

    L_forget = -(2/beta) log sigmoid(-(beta/|y|) log p_theta(y) - gamma)

Dividing by the length keeps long texts from dominating, and with no ``p_ref`` the loss needs no
copy of the model. Minimised: ``forget_weight * mean_batch(L_forget) + alpha * NLL(retain)``.

Defaults are open-unlearning's ``configs/trainer/SimNPO.yaml``: ``beta = 4.5``, margin 0
(``delta``; the paper's ``gamma`` is open-unlearning's ``beta * delta``), forget weight 0.125
(open-unlearning's ``gamma``, Unlearn-Simple's ``npo_coeff``) and ``alpha = 1`` on the retain NLL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from debiasbench import api
from debiasbench.api import check_range, option
from debiasbench.api.training import SelectiveOptions, UnlearningLoss
from debiasbench_unlearn.methods.common import OptionalRetainMethod, RetainNLLTerm, quick

if TYPE_CHECKING:  # pragma: no cover - typing only
    from torch import Tensor

    from debiasbench.api.training import TextBatch


@dataclass
class SimNPOOptions(SelectiveOptions):
    beta: float = option(4.5, "inverse temperature beta (open-unlearning SimNPO.yaml)")
    gamma: float = option(0.0, "reward margin gamma of the paper's eq. 4 (open-unlearning: delta = 0)")
    forget_weight: float = option(0.125, "weight of the forget term (open-unlearning's gamma / npo_coeff)")
    alpha: float = option(1.0, "weight of the retain NLL term; 0: no retain term")

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("beta", "forget_weight"):
            check_range(self, name, above=0)
        check_range(self, "alpha", at_least=0)


def simnpo_loss(lp: Tensor, mask: Tensor, beta: float, gamma: float) -> Tensor:
    """``-(2/beta) log sigmoid(-(beta/|y|) log p(y) - gamma)`` per text, batch mean; ``lp`` (B, T)."""
    import torch.nn.functional as F

    length = mask.sum(dim=1).clamp(min=1).to(lp.dtype)
    seq = api.training.sequence_logprob(lp, mask)
    return (-(2.0 / beta) * F.logsigmoid(-(beta / length) * seq - gamma)).mean()


@dataclass
class SimNPOLoss(UnlearningLoss):
    """SimNPO on the selected tokens, no retain term."""

    beta: float = 4.5
    gamma: float = 0.0
    forget_weight: float = 0.125

    def forget(self, batch: TextBatch) -> Tensor:
        return self.forget_weight * simnpo_loss(batch.logprobs(), batch.mask, self.beta, self.gamma)


class SimNPOWithRetain(RetainNLLTerm, SimNPOLoss):
    """SimNPO + ``alpha`` x token-mean NLL of a retain batch."""


class SimNPO(OptionalRetainMethod):
    """Length-normalised, reference-free NPO on the selected tokens plus a retain NLL."""

    name = "simnpo"
    description = "SimNPO (Fan et al. 2024): length-normalised reference-free NPO on the selected tokens + alpha * retain NLL"
    Options = SimNPOOptions
    Loss = SimNPOWithRetain
    ForgetOnly = SimNPOLoss
    presets = quick()
