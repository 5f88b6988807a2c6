"""``dpo``: direct preference optimisation (Rafailov et al. 2023) used for unlearning, as
open-unlearning's ``DPO`` trainer: the forget text is the rejected answer ``l`` and a preferred
text ``w`` is what the model should say instead::

    L_forget = -log sigmoid(beta ((log p_theta(w) - log p_ref(w)) - (log p_theta(l) - log p_ref(l))))

``log p(.)`` sums every token of a text (DPO compares whole texts, so no span selector applies);
``p_ref`` of both sides is computed once with the starting weights, so no copy of the model is
kept. Minimised: ``mean_batch(L_forget) + alpha * NLL(retain)``. (open-unlearning's
``compute_dpo_loss`` multiplies the same term by ``2/beta``, as NPO does; the optimum is the same.)

``preferred``:

* ``counterfactual``: the forget text with its group terms swapped for another group's
  (``women`` -> ``men``, the ``counterfactual`` selector's swap): the model learns to prefer no
  group as the target of the statement. A text with no identity term of its domain (or whose
  swap changes nothing) has no pair: it is dropped before training and counted in the loss's
  ``unpaired_texts`` and the run info's ``dpo_unpaired_texts``.
* ``neutral``: the forget set's retain text for the domain (neutral statements about the same
  groups), forget text ``i`` paired with retain text ``i mod n``; needs retain text.

Defaults are open-unlearning's ``configs/trainer/DPO.yaml``: ``beta = 0.1``, ``alpha = 1``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from debiasbench import api
from debiasbench.api import DebiasbenchError, ModelHandle, UnlearnContext, UnlearnOutcome, check_range, option
from debiasbench.api.training import TrainingOptions, UnlearningLoss
from debiasbench_unlearn.methods.common import OptionalRetainMethod, RetainNLLTerm, quick
from debiasbench_unlearn.methods.preferred import (
    PreferredSide,
    counterfactual_pairs,
    forget_tokens,
    neutral_pairs,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from torch import Tensor

    from debiasbench.api.training import TextBatch


@dataclass
class DPOOptions(TrainingOptions):
    beta: float = option(0.1, "DPO inverse temperature beta (open-unlearning DPO.yaml)")
    preferred: Literal["counterfactual", "neutral"] = option(
        "counterfactual", "preferred text: the forget text with the group swapped, or a neutral retain text of the domain")
    alpha: float = option(1.0, "weight of the retain NLL term; 0: no retain term (open-unlearning DPO.yaml)")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "beta", above=0)
        check_range(self, "alpha", at_least=0)


def dpo_loss(win: Tensor, win_ref: Tensor, lose: Tensor, lose_ref: Tensor, beta: float) -> Tensor:
    """``-log sigmoid(beta ((win - win_ref) - (lose - lose_ref)))``, batch mean; all (B,)."""
    import torch.nn.functional as F

    return -F.logsigmoid(beta * ((win - win_ref) - (lose - lose_ref))).mean()


@dataclass
class DPOLoss(UnlearningLoss):
    """DPO with the forget text rejected; the preferred side is attached before training."""

    beta: float = 0.1
    select_all = True  # whole texts: log p(l) over every token
    needs_reference_sequences = True  # log p_ref(l), once before the first step
    preferred_side = None  # PreferredSide, set by attach(); not a loss parameter
    unpaired_texts = 0  # forget texts dropped for want of a preferred text

    def attach(self, side: PreferredSide, unpaired: int) -> None:
        self.preferred_side, self.unpaired_texts = side, unpaired

    def forget(self, batch: TextBatch) -> Tensor:
        if self.preferred_side is None:
            raise DebiasbenchError("dpo: the loss has no preferred texts; DPO.unlearn attaches them before training")
        rows = self.preferred_side.rows(batch)
        win, win_ref = self.preferred_side.logprobs(batch, rows)
        lose = api.training.sequence_logprob(batch.logprobs(), batch.mask)
        return dpo_loss(win, win_ref, lose, batch.reference_sequence_logprobs(), self.beta)


class DPOWithRetain(RetainNLLTerm, DPOLoss):
    """DPO + ``alpha`` x token-mean NLL of a retain batch."""


class DPO(OptionalRetainMethod):
    """Prefer a counterfactual or neutral text over each forget text."""

    name = "dpo"
    description = "DPO (Rafailov et al. 2023) with the forget text rejected and its group-swapped (or a neutral) text preferred"
    Options = DPOOptions
    Loss = DPOWithRetain
    ForgetOnly = DPOLoss
    presets = quick()

    def unlearn(self, model: ModelHandle, options: Any, ctx: UnlearnContext) -> UnlearnOutcome:
        if options.preferred == "neutral":
            kept, preferred = neutral_pairs(ctx.forget, ctx.retain)
        else:
            kept, preferred = counterfactual_pairs(ctx.forget, ctx.seed)
        if not kept:
            domain = ctx.forget[0].domain if ctx.forget else "?"
            raise DebiasbenchError(f"dpo: no forget text of domain {domain!r} has an identity term to swap; "
                                   "use -o preferred=neutral")
        loss = self.loss(options)
        side = PreferredSide.build(model, kept, preferred, forget_tokens(options, model), options.batch_size)
        loss.attach(side, len(ctx.forget) - len(kept))
        outcome = api.training.train(self.name, model, options, dataclasses.replace(ctx, forget=kept), loss)
        outcome.info.update({"dpo_preferred": options.preferred, "dpo_unpaired_texts": loss.unpaired_texts})
        return outcome
