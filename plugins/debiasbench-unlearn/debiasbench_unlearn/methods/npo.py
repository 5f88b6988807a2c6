"""The ``npo`` method of docs/concepts.md, "Unlearning methods": negative preference optimisation
on the selected tokens, a small loss run by the core's training loop. Defaults were chosen as for
the gradient-ascent family (ascent.py). Importing this module imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from debiasbench import api  # the loss functions need torch: looked up when a step runs
from debiasbench.api import option
from debiasbench.api.training import LossMethod, SelectiveOptions, UnlearningLoss

if TYPE_CHECKING:  # pragma: no cover - typing only
    from torch import Tensor

    from debiasbench.api.training import TextBatch


@dataclass
class NPOOptions(SelectiveOptions):
    beta: float = option(0.1, "NPO inverse temperature beta")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.beta <= 0:
            raise ValueError(f"beta must be positive, got {self.beta}")


@dataclass
class NPOLoss(UnlearningLoss):
    """NPO on ``log p(y)`` = the sum over the selected tokens, against ``p_ref`` before the first step."""

    beta: float = 0.1
    needs_reference_sequences = True

    def forget(self, batch: TextBatch) -> Tensor:
        theta = api.training.sequence_logprob(batch.logprobs(), batch.mask)
        return api.training.npo_loss(theta, batch.reference_sequence_logprobs(), self.beta)


class NPO(LossMethod):
    """Negative preference optimisation on the selected tokens (a bounded, slower-diverging GA)."""

    name = "npo"
    description = "negative preference optimisation (Zhang et al. 2024) on the selected tokens"
    Options = NPOOptions
    Loss = NPOLoss
