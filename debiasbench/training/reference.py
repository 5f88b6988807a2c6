"""The frozen reference ``ref`` (docs/concepts.md, "Unlearning methods"): the model as it was before unlearning.

Made once, before the first step, and only what the loss asks for: a frozen copy of the
weights for per-batch reference logits (under LoRA no copy: the base with the adapters
disabled *is* the starting model), and the per-text ``log p_ref(y)`` NPO needs (one scoring pass
over the forget texts; no copy is kept for it).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch

from debiasbench.errors import DebiasbenchError
from debiasbench.lm.logprobs import logits_of, token_logprobs


class Reference:
    """What the loss may compare against; :class:`~debiasbench.training.batch.TextBatch` asks it."""

    def __init__(self, model: Any, lora: bool, loss_name: str, keep_model: bool) -> None:
        self.model, self.lora, self.loss_name = model, lora, loss_name
        self.frozen: Any = None
        self.kind: str | None = None
        if keep_model:
            self.kind = "adapter-free base" if lora else "frozen copy"
            if not lora:
                self.frozen = copy.deepcopy(model).eval()
                for p in self.frozen.parameters():
                    p.requires_grad_(False)
        self.sequences: torch.Tensor | None = None

    def compute_sequences(self, ids: Sequence[Sequence[int]], masks: Sequence[Sequence[bool]], prefix_id: int,
                          batch_size: int, device: Any) -> None:
        """``log p_ref(y)`` of every forget text: the sum over its selected tokens, starting weights."""
        lps = token_logprobs(self.model, ids, prefix_id, batch_size)
        sums = [float(lp[[bool(s) for s in mask]].sum()) for lp, mask in zip(lps, masks)]
        self.sequences = torch.tensor(sums, dtype=torch.float32, device=device)

    def logits(self, ids: torch.Tensor, attn: torch.Tensor) -> torch.Tensor:
        """The reference model's float32 next-token logits (no gradient)."""
        if self.kind is None:
            raise DebiasbenchError(f"loss {self.loss_name} asks for reference logits; set needs_reference = True on its class")
        with torch.no_grad():
            if self.frozen is not None:
                return logits_of(self.frozen, ids, attn)
            with self.model.disable_adapter():
                return logits_of(self.model, ids, attn)

    def sequence_logprobs(self, indices: list[int]) -> torch.Tensor:
        """``log p_ref(y)`` of the forget texts ``indices`` (B,)."""
        if self.sequences is None:
            raise DebiasbenchError(f"loss {self.loss_name} asks for reference sequence log-probabilities; "
                                   "set needs_reference_sequences = True on its class")
        return self.sequences[indices]
