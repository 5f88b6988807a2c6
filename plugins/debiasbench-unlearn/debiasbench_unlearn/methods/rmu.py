"""``rmu``: representation misdirection for unlearning (Li et al. 2024, "The WMDP Benchmark:
Measuring and Reducing Malicious Use With Unlearning", section 5).

At decoder block ``layer`` (0-based), the hidden states ``h_theta`` of the selected forget tokens
are pushed toward a fixed random direction scaled by ``c`` (``steering_coeff``), and the retain
tokens' hidden states are held at the frozen model's ``h_ref``; with ``u`` a unit vector drawn
once (``torch.rand``, normalised, as the reference code; seeded by ``--seed``)::

    L_forget = mean_texts (1/|M|) sum_{i in M} (1/d) ||h_theta,i - c u||^2
    L_retain = mean_texts (1/|R|) sum_{i in R} (1/d) ||h_theta,i - h_ref,i||^2

(the squared norm per dimension, per text mean over its tokens, batch mean, as open-unlearning's
``compute_activation_loss``). Minimised: ``L_forget + alpha * L_retain``. Defaults are
open-unlearning's ``configs/trainer/RMU.yaml``: ``layer = 7`` (``model.layers.7``),
``steering_coeff = 2``, ``alpha = 1``, every weight trained (the WMDP code, for Zephyr-7B, trains
only the MLP down-projections of layers 5-7 with a much larger ``alpha``, 1200). Weights above
``layer`` get no gradient and stay as they are.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from debiasbench import api
from debiasbench.api import DebiasbenchError, ModelHandle, RunFacts, UnlearnContext, UnlearnOutcome, check_range, option
from debiasbench.api.training import SelectiveOptions, UnlearningLoss
from debiasbench_unlearn.methods.activations import (
    layer_count,
    layer_states,
    reference_layer_states,
)
from debiasbench_unlearn.methods.common import OptionalRetainMethod, quick

if TYPE_CHECKING:  # pragma: no cover - typing only
    from torch import Tensor

    from debiasbench.api.training import TextBatch


@dataclass
class RMUOptions(SelectiveOptions):
    layer: int = option(7, "decoder block (0-based) whose output is steered (open-unlearning RMU.yaml: model.layers.7)")
    steering_coeff: float = option(2.0, "norm c of the random target c*u for forget activations (open-unlearning RMU.yaml)")
    alpha: float = option(1.0, "weight of the retain activation-matching term; 0: no retain term (open-unlearning RMU.yaml)")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "layer", at_least=0)
        check_range(self, "steering_coeff", above=0)
        check_range(self, "alpha", at_least=0)


def activation_loss(h: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Per text ``(1/|M|) sum_{i in M} mean_d (h_i - target_i)^2``, batch mean; (B, T, d), mask (B, T)."""
    import torch

    per_token = ((h - target) ** 2).mean(dim=-1)
    per_text = torch.where(mask, per_token, torch.zeros_like(per_token)).sum(dim=1)
    return (per_text / mask.sum(dim=1).clamp(min=1).to(h.dtype)).mean()


def control_vector(dim: int, seed: int, steering_coeff: float) -> Tensor:
    """``c * u``: ``u`` uniform in [0, 1)^d normalised to unit length (the WMDP code's draw), seeded."""
    import torch

    u = torch.rand(dim, generator=torch.Generator().manual_seed(seed))
    return steering_coeff * u / u.norm()


@dataclass
class RMULoss(UnlearningLoss):
    """Steer the selected forget tokens' activations at ``layer`` toward ``c * u``; no retain term."""

    layer: int = 7
    steering_coeff: float = 2.0
    seed: int = 0

    def forget(self, batch: TextBatch) -> Tensor:
        h = layer_states(batch, self.layer)
        target = control_vector(h.shape[-1], self.seed, self.steering_coeff).to(h.device)
        return activation_loss(h, target.expand_as(h), batch.mask)


class RMUWithRetain(RMULoss):
    """RMU + ``alpha`` x activation distance to the frozen model on retain tokens."""

    needs_retain = True
    needs_reference = True
    retain_mean = "texts"  # activation_loss: a mean of per-text means

    def retain(self, batch: TextBatch) -> Tensor:
        h = layer_states(batch, self.layer)
        return activation_loss(h, reference_layer_states(batch, self.layer), batch.mask)


LAYER_KEYS = ("num_hidden_layers", "n_layer", "num_layers", "n_layers")
"""Where a config.json says how many decoder blocks the model has."""


def check_layer(model: Any, layer: int) -> None:
    """One line when ``layer`` is not a block of ``model`` (checked before training starts)."""
    count = layer_count(model)
    if layer >= count:
        raise DebiasbenchError(f"rmu: -o layer={layer} is beyond the model, which has {count} decoder layers "
                               f"(0..{count - 1}); pass -o layer=N with N below {count}")


class RMU(OptionalRetainMethod):
    """Representation misdirection: scramble the selected tokens' activations at one layer."""

    name = "rmu"
    description = "RMU (Li et al. 2024, WMDP): steer the selected tokens' layer activations to a random vector + alpha * retain activation match"
    Options = RMUOptions
    Loss = RMUWithRetain
    ForgetOnly = RMULoss
    presets = quick()

    def check_run(self, options: Any, run: RunFacts) -> None:
        """The layer against the model's config.json, when it is on disk: before the model loads."""
        super().check_run(options, run)
        config = run.model_config or {}
        count = next((config[k] for k in LAYER_KEYS if isinstance(config.get(k), int)), None)
        if count is not None and options.layer >= count:
            raise DebiasbenchError(f"rmu: -o layer={options.layer} is beyond the model, which has {count} decoder layers "
                                   f"(0..{count - 1}, from its config.json); pass -o layer=N with N below {count}")

    def check_model(self, options: Any, model: ModelHandle) -> None:
        check_layer(model.model, options.layer)

    def unlearn(self, model: ModelHandle, options: Any, ctx: UnlearnContext) -> UnlearnOutcome:
        check_layer(model.model, options.layer)
        loss = dataclasses.replace(self.loss(options), seed=ctx.seed)
        return api.training.train(self.name, model, options, ctx, loss)
