"""The gradient-ascent family of docs/concepts.md, "Unlearning methods": mlm-unlearn, token-ga,
grad-diff and kl, each a small loss run by the core's training loop (``npo`` is in npo.py).

A method here is its options, its loss (forget term, optional retain term, what it needs) and a
name; :class:`~debiasbench.api.LossMethod` and :func:`~debiasbench.api.train` do everything
else. Defaults were chosen on the embedded SmolLM2-135M with the default forget set (HateCheck,
whose focus words the default ``annotated`` selector uses): see the package README for the
measurements. Importing this module imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from debiasbench import api  # the loss functions need torch: looked up when a step runs
from debiasbench.api import option
from debiasbench.api.training import EveryTokenOptions, LossMethod, SelectiveOptions, UnlearningLoss

if TYPE_CHECKING:  # pragma: no cover - typing only
    from torch import Tensor

    from debiasbench.api.training import TextBatch

# --------------------------------------------------------------------------- options


@dataclass
class GradDiffOptions(SelectiveOptions):
    alpha: float = option(1.0, "weight of the retain NLL term")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.alpha < 0:
            raise ValueError(f"alpha must be 0 or more, got {self.alpha}")


@dataclass
class KLOptions(SelectiveOptions):
    alpha: float = option(1.0, "weight of the KL(p_ref || p_theta) retain term")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.alpha < 0:
            raise ValueError(f"alpha must be 0 or more, got {self.alpha}")


# --------------------------------------------------------------------------- losses


@dataclass
class GradientAscent(UnlearningLoss):
    """``(1/|M|) sum_{i in M} log p(x_i | x_<i)`` per text over the selected tokens, batch mean."""

    def forget(self, batch: TextBatch) -> Tensor:
        return api.training.ga_loss(batch.logprobs(), batch.mask)


class EveryTokenAscent(GradientAscent):
    """The same on every token of the texts: no selector."""

    select_all = True


class AscentWithRetainNLL(GradientAscent):
    """Gradient ascent + ``alpha`` x token-mean NLL of a retain batch."""

    needs_retain = True

    def retain(self, batch: TextBatch) -> Tensor:
        return api.training.nll_loss(batch.logprobs(), batch.mask)


class AscentWithRetainKL(GradientAscent):
    """Gradient ascent + ``alpha`` x ``KL(p_ref || p_theta)`` per retain position."""

    needs_retain = True
    needs_reference = True

    def retain(self, batch: TextBatch) -> Tensor:
        return api.training.kl_loss(batch.logits(), batch.reference_logits(), batch.mask)


# --------------------------------------------------------------------------- methods


class MLMUnlearn(LossMethod):
    """Gradient ascent on the selected (harmful) tokens only: the seed study's method."""

    name = "mlm-unlearn"
    description = "gradient ascent on the log-likelihood of the selected harmful tokens only (Lu et al. 2024)"
    Options = SelectiveOptions
    Loss = GradientAscent


class TokenGA(LossMethod):
    """The baseline: gradient ascent on every token of the forget texts (no selector)."""

    name = "token-ga"
    description = "gradient ascent on every token of the same forget texts as mlm-unlearn (the study's baseline)"
    Options = EveryTokenOptions
    Loss = EveryTokenAscent


class GradDiff(LossMethod):
    """Gradient ascent on the selected tokens plus ``alpha`` x NLL on retain text."""

    name = "grad-diff"
    description = "selected-token gradient ascent + alpha * NLL on retain text"
    Options = GradDiffOptions
    Loss = AscentWithRetainNLL


class KLUnlearn(LossMethod):
    """Gradient ascent on the selected tokens plus ``alpha`` x KL to the frozen model on retain text."""

    name = "kl"
    description = "selected-token gradient ascent + alpha * KL(p_ref || p_theta) on retain text"
    Options = KLOptions
    Loss = AscentWithRetainKL
