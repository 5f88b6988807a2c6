"""Continued causal-LM training on corpus sentences, through the core's shared loop.

CDA and Dropout are not unlearning: they *descend* the NLL of a corpus. The shared loop trains
on ``ctx.forget``, so the corpus sentences are passed as :class:`ForgetText` s of a copy of the
context (no selector, no retain text) and the loss's forget term is the token-mean NLL over every
token. Everything else (batching, AdamW, clipping, divergence checks, stopping, the step callback,
LoRA) is the loop's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from debiasbench import api
from debiasbench.api import ForgetText, ModelHandle, UnlearnContext, UnlearnOutcome
from debiasbench.api.training import UnlearningLoss

if TYPE_CHECKING:  # pragma: no cover - typing only
    from torch import Tensor

    from debiasbench.api.training import TextBatch


@dataclass
class CausalLMLoss(UnlearningLoss):
    """``L = -(1/|T|) sum_{i in T} log p_theta(x_i | x_<i)`` over every token ``T`` of the batch:
    ordinary language-model training (gradient *descent*)."""

    select_all = True
    forget_mean = "tokens"  # nll_loss: a mean over the batch's tokens

    def forget(self, batch: TextBatch) -> Tensor:
        return api.training.nll_loss(batch.logprobs(), batch.mask)


def as_forget_texts(texts: list[tuple[str, str]], domain: str, source: str) -> list[ForgetText]:
    """``(text, kind)`` pairs as the loop's texts (``kind``: original, counterfactual, corpus)."""
    return [ForgetText(text=text, domain=domain, group=kind, source=source) for text, kind in texts]


def train_on_texts(method: str, handle: ModelHandle, options: Any, ctx: UnlearnContext, loss: UnlearningLoss,
                   texts: list[ForgetText]) -> UnlearnOutcome:
    """Run the shared loop on ``texts`` instead of the run's forget texts."""
    corpus_ctx = dataclasses.replace(ctx, forget=texts, retain=[], selector=None, selector_ctx=None)
    outcome = api.training.train(method, handle, options, corpus_ctx, loss)
    outcome.info["training_texts_used"] = outcome.info.pop("forget_texts")  # the loop's count is of corpus texts
    return outcome
