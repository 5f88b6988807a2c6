"""What the zoo's methods share: the retain NLL term (``RetainNLLTerm``), a method whose retain term ``alpha = 0``
switches off, the ``quick`` preset and a masked token mean
(option range checks: ``debiasbench.api.check_range``). Imports no torch."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from debiasbench import api  # the loss functions need torch: looked up when a step runs
from debiasbench.api import PresetValues
from debiasbench.api.training import LossMethod, UnlearningLoss

if TYPE_CHECKING:  # pragma: no cover - typing only
    from torch import Tensor

    from debiasbench.api.training import TextBatch


class RetainNLLTerm:
    """Mixin for a loss: ``alpha`` x token-mean NLL of a retain batch, open-unlearning's
    ``retain_loss_type: NLL`` (the HF ``model(**retain).loss`` of its ``GradDiff``)."""

    needs_retain: ClassVar[bool] = True

    def retain(self, batch: TextBatch) -> Tensor:
        return api.training.nll_loss(batch.logprobs(), batch.mask)


def quick(**extra: Any) -> Mapping[str, PresetValues]:
    """``presets`` with ``quick`` = :class:`LossMethod`'s quick values (one epoch) plus ``extra``."""
    return {"quick": PresetValues(options={**LossMethod.presets["quick"].options, **extra})}


class OptionalRetainMethod(LossMethod):
    """A :class:`LossMethod` whose retain term is optional: ``Loss`` has it, ``ForgetOnly`` is the
    same loss without it, used when ``-o alpha=0`` (the loop then draws no retain batches).

    ``needs_retain`` stays True (it is a class attribute the orchestrator reads before the options
    are known), so a run still loads the forget set's retain text.
    """

    ForgetOnly: ClassVar[type[UnlearningLoss]]

    def loss(self, options: Any) -> UnlearningLoss:
        cls = self.ForgetOnly if options.alpha == 0 else self.Loss
        return build_loss(cls, options)


def build_loss(cls: type[UnlearningLoss], options: Any, **overrides: Any) -> UnlearningLoss:
    """``cls`` with each field taken from the option of the same name (as :meth:`LossMethod.loss`)."""
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in dataclasses.asdict(options).items() if k in names}
    return cls(**{**values, **overrides})


def token_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` (B, T) over the masked positions of the whole batch; 0 when none is masked."""
    import torch

    picked = torch.where(mask, values, torch.zeros_like(values))
    return picked.sum() / mask.sum().clamp(min=1).to(values.dtype)
