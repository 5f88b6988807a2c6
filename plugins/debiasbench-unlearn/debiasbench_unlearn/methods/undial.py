"""``undial``: UNDIAL (Dong et al. 2024, "UNDIAL: Self-Distillation with Adjusted Logits for Robust
Unlearning in Large Language Models"), self-distillation toward the frozen model with the logit
of the token to forget lowered.

At each selected position ``i`` (predicting ``x_i``), the teacher is the reference's next-token
distribution with ``beta`` subtracted from the logit of ``x_i`` (a one-hot adjustment), and the
student is trained toward it with cross-entropy (= KL up to the teacher's entropy)::

    q_i = softmax(z_ref,i - beta * onehot(x_i))
    L_forget = (1/|M|) sum_{i in M} CE(q_i, softmax(z_theta,i))

(token mean over the selected tokens ``M`` of the batch, as open-unlearning's
``compute_undial_loss``). Unlike gradient ascent the target is a fixed distribution, so the loss
is bounded below and does not diverge. Defaults are open-unlearning's
``configs/trainer/UNDIAL.yaml``: ``beta = 10`` (the paper tries 3, 10, 30), learning rate 1e-4,
no retain term (``alpha = 0``; the paper uses no retain set).
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
class UNDIALOptions(SelectiveOptions):
    learning_rate: float = option(1e-4, "AdamW learning rate (open-unlearning UNDIAL.yaml; the paper's LoRA setting)")
    beta: float = option(10.0, "how far the teacher's logit of the forgotten token is lowered (open-unlearning UNDIAL.yaml)")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "beta", above=0)


def undial_loss(logits: Tensor, ref_logits: Tensor, ids: Tensor, mask: Tensor, beta: float) -> Tensor:
    """Token-mean CE from the adjusted teacher ``softmax(z_ref - beta onehot(x))`` to the student.

    ``logits`` and ``ref_logits`` (B, T, V) predict ``ids[:, 1:]`` (B, T); ``mask`` (B, T)."""
    import torch

    target = ids[:, 1:].unsqueeze(-1)
    adjusted = ref_logits.float().scatter_add(-1, target, torch.full_like(target, -beta, dtype=torch.float32))
    teacher = torch.softmax(adjusted, dim=-1)
    ce = -(teacher * torch.log_softmax(logits.float(), dim=-1)).sum(dim=-1)
    return token_mean(ce, mask)


@dataclass
class UNDIALLoss(UnlearningLoss):
    """Distillation toward the reference with the forgotten token's logit lowered by ``beta``."""

    forget_mean = "tokens"  # token_mean over the batch

    beta: float = 10.0
    needs_reference = True

    def forget(self, batch: TextBatch) -> Tensor:
        return undial_loss(batch.logits(), batch.reference_logits(), batch.ids, batch.mask, self.beta)


class UNDIAL(LossMethod):
    """Self-distillation with adjusted logits on the selected tokens (no retain text)."""

    name = "undial"
    description = "UNDIAL (Dong et al. 2024): distil toward the frozen model with the selected token's logit lowered by beta"
    Options = UNDIALOptions
    Loss = UNDIALLoss
    # quick scales LossMethod's rule (learning rate x steps as in the full run, 4x the rate for ~1/4
    # of the steps) to this method's own default rate, 1e-4, instead of taking the shared 4e-5
    presets = quick(learning_rate=4e-4)
