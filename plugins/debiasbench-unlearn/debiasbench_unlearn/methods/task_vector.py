"""``task-vector``: task arithmetic by negation (Ilharco et al. 2023, "Editing Models with Task
Arithmetic", section 3). Fine-tune a copy of the model on the forget texts, take the task vector
``tau = theta_ft - theta_0`` and subtract it::

    theta_ft = argmin_theta  (1/|M|) sum_{i in M} -log p_theta(x_i | x_<i)     (a few epochs, from theta_0)
    theta    = theta_0 - scale * (theta_ft - theta_0)

The fine-tuning is the shared loop (:func:`~debiasbench.api.train`) with a descent loss, the
mirror of ``mlm-unlearn``: the NLL of the selected tokens, so the span selectors decide what the
task vector learns. Defaults: ``scale = 1`` (plain negation; the paper tunes it in [0, 1] on
held-out data); learning rate, epochs and the rest are the loop's. The orchestrator's
``on_step`` sees the fine-tuning steps, during which the model being unlearned is unchanged: it
changes once, at the end.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from debiasbench import api
from debiasbench.api import ModelHandle, UnlearnContext, UnlearningMethod, UnlearnOutcome, check_range, option
from debiasbench.api.training import SelectiveOptions, UnlearningLoss
from debiasbench_unlearn.methods.common import quick

if TYPE_CHECKING:  # pragma: no cover - typing only
    from torch import Tensor

    from debiasbench.api.training import TextBatch


@dataclass
class TaskVectorOptions(SelectiveOptions):
    scale: float = option(1.0, "lambda: how much of the task vector is subtracted (Ilharco et al. 2023: tuned in [0, 1])")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "scale", above=0)


@dataclass
class SelectedNLL(UnlearningLoss):
    """Fine-tuning: ``(1/|M|) sum_{i in M} -log p(x_i | x_<i)`` per text over the selected tokens, batch mean."""

    def forget(self, batch: TextBatch) -> Tensor:
        return -api.training.ga_loss(batch.logprobs(), batch.mask)


def negate(model: Any, tuned: Any, scale: float) -> float:
    """``theta <- theta - scale * (theta_tuned - theta)`` in place; returns ``||tau||_2``."""
    import torch

    tuned_params = dict(tuned.named_parameters())
    squared = 0.0
    with torch.no_grad():
        for name, p in model.named_parameters():
            tau = tuned_params[name].to(p.device, p.dtype) - p
            squared += float((tau.float() ** 2).sum())
            p.sub_(scale * tau)
    return squared ** 0.5


class TaskVector(UnlearningMethod):
    """Fine-tune a copy on the forget texts' selected tokens, then subtract the weight change."""

    name = "task-vector"
    description = "task-vector negation (Ilharco et al. 2023): fine-tune a copy on the selected tokens, subtract scale * (theta_ft - theta_0)"
    Options: ClassVar[type] = TaskVectorOptions
    presets = quick()
    supports_gradient_checkpointing = True  # the copy trains through the shared loop

    def unlearn(self, model: ModelHandle, options: Any, ctx: UnlearnContext) -> UnlearnOutcome:
        tuned = dataclasses.replace(model, model=copy.deepcopy(model.model))
        outcome = api.training.train(self.name, tuned, options, ctx, SelectedNLL())
        norm = negate(model.model, tuned.model, options.scale)
        outcome.info.update({"task_vector_norm": norm, "task_vector_scale": options.scale})
        return outcome
