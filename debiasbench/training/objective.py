"""The loss interface: what a method minimises, as a forget term and an optional retain term.

The loop minimises ``forget(forget batch) + alpha * retain(retain batch)`` each step and does
everything else (tokenising, selecting, batching, stepping, stopping, reporting). A method is
a small subclass; the class attributes say what the loop must provide::

    @dataclass
    class GradDiffLoss(UnlearningLoss):
        needs_retain = True

        def forget(self, batch):
            return ga_loss(batch.logprobs(), batch.mask)

        def retain(self, batch):
            return nll_loss(batch.logprobs(), batch.mask)

Subclasses are dataclasses, so a loss's own parameters (``beta``, a floor ...) are fields, and
:class:`~debiasbench.training.method.LossMethod` fills them from the method's options of the same
name. Importing this module imports no torch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch

    from debiasbench.training.batch import TextBatch


@dataclass
class UnlearningLoss(ABC):
    """A forget term (required) and a retain term (optional), weighted ``forget + alpha * retain``.

    Class attributes tell the loop what to provide:

    * ``needs_retain``: retain batches are drawn (cycling, seeded) and :meth:`retain` is called
      each step; the run fails early when it gets no retain text.
    * ``needs_reference``: a frozen reference model (a copy of the starting weights; under LoRA
      the adapter-free base, so no copy is made) for :meth:`TextBatch.reference_logits`.
    * ``needs_reference_sequences``: ``log p_ref(y)`` of every forget text over its selected
      tokens, computed once with the starting weights before the first step (NPO), for
      :meth:`TextBatch.reference_sequence_logprobs`. No copy of the model is kept for it.
    * ``select_all``: every token of the forget texts counts and no span selector is used
      (``token-ga``); give such a method options without a ``selector`` field.
    * ``forget_mean`` / ``retain_mean``: what each term averages over, ``"texts"`` (a mean of
      per-text values, like ``ga_loss`` and ``npo_loss``) or ``"tokens"`` (a mean over the
      batch's counted tokens, ``batch.mask``, like ``nll_loss`` and ``kl_loss``). Under
      ``accelerate launch`` each process holds part of a batch, and this weighs the parts so the
      averaged gradient is the whole batch's (see :mod:`debiasbench.training.parallel`).
    """

    alpha: float = 1.0
    """Weight of the retain term (unused without ``needs_retain``)."""

    needs_retain: ClassVar[bool] = False
    needs_reference: ClassVar[bool] = False
    needs_reference_sequences: ClassVar[bool] = False
    select_all: ClassVar[bool] = False
    forget_mean: ClassVar[Literal["texts", "tokens"]] = "texts"
    retain_mean: ClassVar[Literal["texts", "tokens"]] = "tokens"

    @abstractmethod
    def forget(self, batch: TextBatch) -> torch.Tensor:
        """The scalar forget term on a batch of forget texts (``batch.mask`` = selected tokens)."""

    def retain(self, batch: TextBatch) -> torch.Tensor | None:
        """The scalar retain term on a batch of retain texts (``batch.mask`` = their real tokens);
        called only when ``needs_retain``. None: no retain term this step."""
        return None

    @property
    def name(self) -> str:
        """How errors and the run record name this loss."""
        return type(self).__name__
