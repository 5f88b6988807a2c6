"""The preferred side of ``dpo``: for each forget text, the text the model should prefer to it, and
that text's tokens and reference log-probability, found again for a batch by the forget text's
tokens (the loop's batches carry positions among *its* kept texts, not the caller's)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from debiasbench import api
from debiasbench.api import DebiasbenchError, ForgetText, ModelHandle
from debiasbench_unlearn.counterfactual_selector import apply_edits, counterfactual_edits

if TYPE_CHECKING:  # pragma: no cover - typing only
    from torch import Tensor

    from debiasbench.api.training import TextBatch


def counterfactual_pairs(forget: Sequence[ForgetText], seed: int) -> tuple[list[ForgetText], list[str]]:
    """Each forget text with its group terms swapped for another group's (``women`` -> ``men``;
    where the domain has several other groups, one drawn per text, seeded), as the
    ``counterfactual`` selector swaps them. Texts without a swappable term (or whose swap changes
    nothing) are left out: the kept texts and their counterfactuals."""
    rng = random.Random(seed)
    kept, preferred = [], []
    for item in forget:
        options = counterfactual_edits(item.text, item.domain)
        swapped = apply_edits(item.text, rng.choice(options)) if options else item.text
        if swapped != item.text:
            kept.append(item)
            preferred.append(swapped)
    return kept, preferred


def neutral_pairs(forget: Sequence[ForgetText], retain: Sequence[str]) -> tuple[list[ForgetText], list[str]]:
    """Forget text ``i`` with retain text ``i mod len(retain)`` (neutral text about the same groups)."""
    if not retain:
        raise DebiasbenchError("dpo: -o preferred=neutral pairs each forget text with a retain text of its domain, but "
                               "none was given; choose a forget set with retain text or use -o preferred=counterfactual")
    return list(forget), [retain[i % len(retain)] for i in range(len(forget))]


@dataclass
class PreferredSide:
    """Preferred token ids per forget text (keyed by the forget text's token ids) and their
    ``log p_ref`` over every token, computed once with the starting weights."""

    key_to_row: dict[tuple[int, ...], int]
    ids: list[list[int]]
    reference: Tensor  # (N,)
    prefix_id: int

    @classmethod
    def build(cls, handle: ModelHandle, forget: Sequence[ForgetText], preferred: Sequence[str], max_tokens: int,
              batch_size: int) -> PreferredSide:
        import torch

        keys = [tuple(t.input_ids) for t in api.training.tokenize_forget(handle.tokenizer, forget, max_tokens)]
        enc = handle.tokenizer(list(preferred), add_special_tokens=False, truncation=True, max_length=max_tokens)
        rows = [(key, list(ids)) for key, ids in zip(keys, enc["input_ids"]) if key and ids]
        if not rows:
            raise DebiasbenchError("dpo: no forget text has a non-empty preferred text after tokenisation")
        ids = [r[1] for r in rows]
        scored = api.lm.token_logprobs(handle.model, ids, handle.prefix_token_id, batch_size)
        reference = torch.tensor([float(lp.sum()) for lp in scored], dtype=torch.float32,
                                 device=api.lm.model_device(handle.model))
        return cls({key: row for row, (key, _) in enumerate(rows)}, ids, reference, handle.prefix_token_id)

    def rows(self, batch: TextBatch) -> list[int]:
        """The row of each text of a forget batch (its real tokens after the prefix are the key)."""
        lengths = batch.real.sum(dim=1).tolist()
        keys = [tuple(ids[1:1 + n]) for ids, n in zip(batch.ids.tolist(), lengths)]
        missing = sum(key not in self.key_to_row for key in keys)
        if missing:
            raise DebiasbenchError(f"dpo: {missing} forget texts of a batch have no preferred text; "
                                   "the loss was prepared for other forget texts")
        return [self.key_to_row[key] for key in keys]

    def logprobs(self, batch: TextBatch, rows: list[int]) -> tuple[Tensor, Tensor]:
        """``log p_theta(w)`` (with gradient) and ``log p_ref(w)`` of the preferred texts of ``rows``."""
        ids, attn = api.lm.collate([self.ids[r] for r in rows], self.prefix_id, batch.ids.device)
        lp = api.lm.target_logprobs(api.lm.logits_of(batch.model, ids, attn), ids)
        return api.training.sequence_logprob(lp, attn[:, 1:].bool()), self.reference[rows]


def forget_tokens(options: Any, handle: ModelHandle) -> int:
    """Tokens per forget text the loop keeps (its ``max_length`` less the prefix), for matching keys."""
    return max(1, min(options.max_length, handle.max_length) - 1)
