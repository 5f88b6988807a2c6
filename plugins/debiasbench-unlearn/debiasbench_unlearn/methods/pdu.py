"""``pdu``: primal-dual unlearning (Entesari, Hatami, Khaziev, Ramakrishna, Fazlyab 2025, "Constrained
Entropic Unlearning: A Primal-Dual Framework for Large Language Models", arXiv:2506.05314), as
open-unlearning's ``src/trainer/unlearn/pdu.py``.

Forget term, the logit-margin flattening loss: at each counted position the squared gap between the
largest logit and the mean logit, averaged over the batch's counted positions (zero when the next-token
distribution is uniform)::

    L_forget = (1/|M|) sum_{i in M} (max_v z_{i,v} - mean_v z_{i,v})^2

Retain constraint ``NLL(retain) <= eps`` through a dual variable ``lambda``: each step minimises
``gamma * L_forget + lambda * (NLL(retain) - eps)``, then (after ``dual_warmup_epochs``)
``lambda <- max(0, lambda + dual_step_size * (NLL(retain) - eps))``. Here the update of step ``t``
is applied when step ``t + 1`` begins, which gives every step the same ``lambda`` as open-unlearning's
update-after-use. ``eps`` must sit above the starting retain loss (its README); with ``retain_loss_eps``
unset it is the first retain batch's NLL plus ``retain_margin``.

Defaults are open-unlearning's ``configs/trainer/PDU.yaml``: ``gamma = 1``, ``lambda_0 = alpha = 1``,
``dual_step_size = 1``, updates per step, 5 warm-up epochs. ``retain_margin = 0.3`` is ``run.sh``'s
TOFU ``retain_loss_eps`` (there the starting retain loss is near 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from debiasbench import api
from debiasbench.api import ModelHandle, UnlearnContext, UnlearnOutcome, check_range, option
from debiasbench.api.training import LossMethod, SelectiveOptions, UnlearningLoss
from debiasbench_unlearn.methods.common import quick, token_mean

if TYPE_CHECKING:  # pragma: no cover - typing only
    from torch import Tensor

    from debiasbench.api.training import TextBatch


@dataclass
class PDUOptions(SelectiveOptions):
    gamma: float = option(1.0, "weight of the forget term (open-unlearning PDU.yaml)")
    alpha: float = option(1.0, "starting value of the dual variable lambda on the retain constraint (PDU.yaml)")
    dual_step_size: float = option(1.0, "step of the dual ascent on lambda (PDU.yaml)")
    dual_warmup_epochs: int = option(5, "epochs before lambda starts to move (PDU.yaml)")
    retain_loss_eps: float | None = option(None, "the constraint NLL(retain) <= eps; none: the first retain batch's NLL + retain_margin")
    retain_margin: float = option(0.3, "eps above the starting retain NLL when retain_loss_eps is unset")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "gamma", above=0)
        for name in ("alpha", "dual_step_size", "dual_warmup_epochs", "retain_margin"):
            check_range(self, name, at_least=0)
        check_range(self, "retain_loss_eps", above=0)  # None: off


def flattening_loss(logits: Tensor, mask: Tensor) -> Tensor:
    """``(max logit - mean logit)^2`` per position, mean over the masked positions; ``logits`` (B, T, V)."""
    z = logits.float()
    return token_mean((z.max(dim=-1).values - z.mean(dim=-1)) ** 2, mask)


def dual_update(lam: float, retain: float, eps: float, step_size: float) -> float:
    """``max(0, lambda + step_size * (retain - eps))``."""
    return max(0.0, lam + step_size * (retain - eps))


@dataclass
class PDULoss(UnlearningLoss):
    """``gamma * flattening + lambda * (NLL(retain) - eps)``; ``alpha`` is lambda, moved by the retain term."""

    gamma: float = 1.0
    dual_step_size: float = 1.0
    retain_loss_eps: float | None = None
    retain_margin: float = 0.3
    warmup_steps: int = 0  # steps before lambda moves (dual_warmup_epochs x steps per epoch, set by PDU.unlearn)
    needs_retain = True
    forget_mean = "tokens"
    pending = None  # the last retain NLL, applied to lambda when the next step's retain term runs
    calls = 0

    def forget(self, batch: TextBatch) -> Tensor:
        return self.gamma * flattening_loss(batch.logits(), batch.mask)

    def retain(self, batch: TextBatch) -> Tensor:
        if self.pending is not None:
            self.alpha = dual_update(self.alpha, self.pending, self.retain_loss_eps, self.dual_step_size)
        nll = api.training.nll_loss(batch.logprobs(), batch.mask)
        if self.retain_loss_eps is None:
            self.retain_loss_eps = float(nll.detach()) + self.retain_margin
        self.calls += 1
        self.pending = float(nll.detach()) if self.calls > self.warmup_steps else None
        return nll - self.retain_loss_eps


class PDU(LossMethod):
    """Flatten the next-token distribution on the selected tokens under a retain-loss constraint (primal-dual)."""

    name = "pdu"
    description = "PDU (Entesari et al. 2025): logit-margin flattening on the selected tokens, retain NLL <= eps kept by a dual variable"
    Options = PDUOptions
    Loss = PDULoss
    presets = quick(dual_warmup_epochs=0)  # one epoch: the constraint must act from the start

    def unlearn(self, model: ModelHandle, options: Any, ctx: UnlearnContext) -> UnlearnOutcome:
        loss = self.loss(options)
        loss.warmup_steps = options.dual_warmup_epochs * math.ceil(max(len(ctx.forget), 1) / options.batch_size)
        outcome = api.training.train(self.name, model, options, ctx, loss)
        outcome.info.update({"pdu_lambda_end": loss.alpha, "pdu_retain_loss_eps": loss.retain_loss_eps})
        return outcome
