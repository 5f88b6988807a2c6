"""``ceu``: cross-entropy unlearning (CE-U; Yang et al. 2025, "CE-U: Cross Entropy Unlearning",
arXiv:2503.01224), as open-unlearning's ``src/trainer/unlearn/ceu.py``.

At each counted position ``i`` with logits ``z`` and true next token ``y``, the target distribution is
the model's own, detached, with the true token removed: ``q = softmax(z')`` where ``z'_y = -inf`` and
``z'_v = z_v`` otherwise. The loss is the cross-entropy to it, averaged over the counted positions of
the batch::

    L_forget = (1/|M|) sum_{i in M} -sum_v q_{i,v} log p_theta(v | x_<i)

Its gradient on the logits is ``p - q``: it pushes the true token's probability to zero and leaves
the rest of the distribution in proportion, without gradient ascent's unbounded growth.
``M`` is the selected tokens, less the first ``ignore_first`` tokens of each text (open-unlearning's
``ignore_first_n_answer_tokens = 1``, the footnote of the paper's training settings; here a text has
no question, so its first tokens play the answer's first). Forget term only, as open-unlearning's
``CEU`` trainer; learning rate 1e-5 as its ``community/methods/CEU/run.sh``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from debiasbench.api import check_range, option
from debiasbench.api.training import LossMethod, SelectiveOptions, UnlearningLoss
from debiasbench_unlearn.methods.common import quick, token_mean

if TYPE_CHECKING:  # pragma: no cover - typing only
    from torch import Tensor

    from debiasbench.api.training import TextBatch


@dataclass
class CEUOptions(SelectiveOptions):
    ignore_first: int = option(1, "tokens at the start of each text left out of the loss (open-unlearning CEU.yaml)")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "ignore_first", at_least=0)


def ceu_loss(logits: Tensor, targets: Tensor, mask: Tensor) -> Tensor:
    """CE-U over the masked positions; ``logits`` (B, T, V), ``targets`` (B, T) true next tokens."""
    import torch

    z = logits.float()
    suppressed = z.detach().scatter(-1, targets.unsqueeze(-1), float("-inf"))
    q = torch.softmax(suppressed, dim=-1)
    per_position = -(q * torch.log_softmax(z, dim=-1)).sum(dim=-1)
    return token_mean(per_position, mask)


def without_first(mask: Tensor, n: int) -> Tensor:
    """``mask`` with each text's first ``n`` positions cleared."""
    import torch

    if n == 0:
        return mask
    return mask & (torch.arange(mask.shape[1], device=mask.device) >= n).unsqueeze(0)


@dataclass
class CEULoss(UnlearningLoss):
    """CE-U on the selected tokens; no retain term."""

    ignore_first: int = 1
    forget_mean = "tokens"

    def forget(self, batch: TextBatch) -> Tensor:
        return ceu_loss(batch.logits(), batch.ids[:, 1:], without_first(batch.mask, self.ignore_first))


class CEU(LossMethod):
    """Cross-entropy to the model's own distribution with the true token removed."""

    name = "ceu"
    description = "CE-U (Yang et al. 2025): cross-entropy to the model's distribution with the true token suppressed, on the selected tokens"
    Options = CEUOptions
    Loss = CEULoss
    presets = quick()
