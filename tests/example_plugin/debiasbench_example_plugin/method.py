"""Registers the ``example-floored-ga`` unlearning method: a third-party method in ~40 lines, built
only on :mod:`debiasbench.api` (the loss interface and the core's training loop).

Gradient ascent on the selected tokens, floored: a text whose mean selected-token
log-probability is already below ``floor`` stops being pushed further (its term is constant,
so it has no gradient), which keeps plain ascent from running away on the texts it has
already forgotten; a retain NLL term weighted ``alpha`` keeps the rest of the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from debiasbench import api
from debiasbench.api import hookimpl, option
from debiasbench.api.training import LossMethod, SelectiveOptions, UnlearningLoss

if TYPE_CHECKING:  # pragma: no cover - typing only
    from torch import Tensor

    from debiasbench.api.training import TextBatch


DEBIASBENCH_API = "1"  # the major version of debiasbench.api.API_VERSION this plugin is written for (docs/api.md)


@dataclass
class FlooredOptions(SelectiveOptions):
    """The loop's options plus the floor and the retain weight."""

    floor: float = option(-8.0, "stop pushing a text once its mean selected-token log-probability is below this (nats)")
    alpha: float = option(1.0, "weight of the retain NLL term")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.floor >= 0:
            raise ValueError(f"floor is a log-probability and must be negative, got {self.floor}")
        if self.alpha < 0:
            raise ValueError(f"alpha must be 0 or more, got {self.alpha}")


@dataclass
class FlooredAscentLoss(UnlearningLoss):
    """``mean_b max(floor, mean selected log p)`` + ``alpha`` x retain NLL."""

    floor: float = -8.0
    needs_retain = True

    def forget(self, batch: TextBatch) -> Tensor:
        return api.training.selected_mean_logprob(batch.logprobs(), batch.mask).clamp(min=self.floor).mean()

    def retain(self, batch: TextBatch) -> Tensor:
        return api.training.nll_loss(batch.logprobs(), batch.mask)


class FlooredAscent(LossMethod):
    """Selected-token gradient ascent with a per-text floor, plus retain NLL (example plugin)."""

    name = "example-floored-ga"
    description = "selected-token gradient ascent floored per text + alpha * retain NLL (example plugin)"
    Options = FlooredOptions
    Loss = FlooredAscentLoss


@hookimpl
def register_methods(register: Any) -> None:
    register(FlooredAscent())
