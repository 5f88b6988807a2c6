"""A registrable unlearning method that is a loss run by the shared loop. Imports no torch.

A new method is a loss class and a few lines::

    class AscentWithRetain(LossMethod):
        name = "my-ascent-with-retain"
        description = "selected-token gradient ascent + alpha * NLL on retain text"
        Options = MyOptions            # a SelectiveOptions subclass with a field ``alpha``
        Loss = MyLoss                  # its field ``alpha`` is filled from the options
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from debiasbench.plugin_system.interfaces import ModelHandle, PresetValues, UnlearnContext, UnlearningMethod, UnlearnOutcome
from debiasbench.training.objective import UnlearningLoss
from debiasbench.training.options import SelectiveOptions


class LossMethod(UnlearningMethod):
    """An :class:`UnlearningMethod` whose :meth:`unlearn` is :func:`~debiasbench.training.loop.train`
    with the loss :meth:`loss` builds from the options.

    ``needs_retain`` (which the orchestrator reads to load retain text) follows ``Loss.needs_retain``
    unless the subclass sets it.

    The ``quick`` preset keeps the amount of unlearning comparable to the full protocol (docs/concepts.md,
    "Presets"; issue 10): the full run takes ~88 steps (2 epochs of ~350 texts, batch 8) at 1e-5, so
    learning rate x steps ~ 8.8e-4; quick trains one epoch on the forget set's quick subset
    (HateCheck: 192 texts, ~23 steps) at 4e-5, ~9e-4. The rate follows from that rule, not from
    any evaluation item.
    """

    Options: ClassVar[type] = SelectiveOptions
    Loss: ClassVar[type[UnlearningLoss]]
    supports_gradient_checkpointing: ClassVar[bool] = True  # the shared loop honours it
    presets: ClassVar[Mapping[str, PresetValues]] = {"quick": PresetValues(options={"epochs": 1, "learning_rate": 4e-5})}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        loss = cls.__dict__.get("Loss")
        if loss is not None and "needs_retain" not in cls.__dict__:
            cls.needs_retain = loss.needs_retain

    def loss(self, options: Any) -> UnlearningLoss:
        """The loss for ``options``: ``Loss`` with each of its fields taken from the option of the
        same name where the options have one (else the field's default). Override for more."""
        names = {f.name for f in dataclasses.fields(self.Loss)}
        return self.Loss(**{k: v for k, v in dataclasses.asdict(options).items() if k in names})

    def unlearn(self, model: ModelHandle, options: Any, ctx: UnlearnContext) -> UnlearnOutcome:
        from debiasbench.training.loop import train  # torch is imported only when a method runs

        return train(self.name, model, options, ctx, self.loss(options))
