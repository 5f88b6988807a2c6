"""One step's texts as a loss sees them: tensors, masks, and log-probabilities computed once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from debiasbench.lm.logprobs import collate, logits_of, pad_masks, target_logprobs
from debiasbench.training.reference import Reference


@dataclass
class TextBatch:
    """A batch of forget or retain texts on the model being trained.

    ``ids`` is ``[p, t_1..t_n]`` per text, right-padded (B, 1+T); ``mask`` (B, T) marks the
    predicted positions that count: the selected tokens of forget texts, every real token of
    retain texts. The accessors run the model (or the reference) on first use and cache the
    result, so a forget and a retain term, or a loss and the loop's stopping rule, share one
    forward pass.
    """

    kind: Literal["forget", "retain"]
    ids: torch.Tensor
    attention_mask: torch.Tensor
    mask: torch.Tensor
    indices: list[int]  # positions of these texts in the run's forget (or retain) texts
    model: Any = field(repr=False)
    reference: Reference = field(repr=False)
    _cache: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)
    runner: Any = field(default=None, repr=False)  # what runs the forward pass: the Accelerator's wrapper of ``model`` under accelerate launch

    @property
    def real(self) -> torch.Tensor:
        """(B, T) True at every non-padding predicted position."""
        return self.attention_mask[:, 1:].bool()

    def logits(self) -> torch.Tensor:
        """(B, T, V) float32 next-token logits of the trained model, with gradient."""
        if "logits" not in self._cache:
            self._cache["logits"] = logits_of(self.runner if self.runner is not None else self.model, self.ids, self.attention_mask)
        return self._cache["logits"]

    def logprobs(self) -> torch.Tensor:
        """(B, T) ``log p_theta(t_{i+1} | p, t_<=i)`` of the actual next tokens, with gradient."""
        if "logprobs" not in self._cache:
            self._cache["logprobs"] = target_logprobs(self.logits(), self.ids)
        return self._cache["logprobs"]

    def reference_logits(self) -> torch.Tensor:
        """(B, T, V) logits of the frozen reference (needs ``needs_reference``), no gradient."""
        if "reference_logits" not in self._cache:
            self._cache["reference_logits"] = self.reference.logits(self.ids, self.attention_mask)
        return self._cache["reference_logits"]

    def reference_logprobs(self) -> torch.Tensor:
        """(B, T) the reference's log-probabilities of the actual next tokens, no gradient."""
        if "reference_logprobs" not in self._cache:
            self._cache["reference_logprobs"] = target_logprobs(self.reference_logits(), self.ids)
        return self._cache["reference_logprobs"]

    def reference_sequence_logprobs(self) -> torch.Tensor:
        """(B,) ``log p_ref(y)`` of these forget texts over their selected tokens, computed before
        the first step (needs ``needs_reference_sequences``)."""
        if self.kind != "forget":
            raise ValueError("reference sequence log-probabilities exist for forget batches only")
        return self.reference.sequence_logprobs(self.indices)


def make_batch(kind: Literal["forget", "retain"], seqs: Sequence[Sequence[int]], masks: Sequence[Sequence[bool]] | None,
               indices: list[int], model: Any, reference: Reference, prefix_id: int, device: Any, runner: Any = None) -> TextBatch:
    """Collate ``seqs`` behind the prefix token; ``masks`` None: every real token counts."""
    ids, attn = collate(seqs, prefix_id, device)
    mask = attn[:, 1:].bool() if masks is None else pad_masks(masks, ids.shape[1] - 1, device)
    return TextBatch(kind=kind, ids=ids, attention_mask=attn, mask=mask, indices=indices, model=model, reference=reference,
                     runner=runner)
