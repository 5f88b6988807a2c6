"""Relearning: a few steps of ordinary fine-tuning on benign text after unlearning (docs/relearning.md).

Unlearning is known to be shallow: a little gradient *descent* on unrelated, harmless text often
brings the forgotten behaviour back. So ``run --relearn-steps N`` fine-tunes the unlearned model
for N steps of next-token cross-entropy (:func:`~debiasbench.training.losses.nll_loss`: the mean
over every token of the batch) on the forget set's benign retain texts, never on evaluation items,
then evaluates it again. It keeps the unlearning loop's conventions, so the two are comparable:
dropout off, AdamW without weight decay, the gradient norm clipped to 1, one seed for the LoRA
initialisation and the text order, and data parallel under ``accelerate launch``
(:class:`~debiasbench.training.parallel.Parallel`: the same steps as one process).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import torch

from debiasbench.errors import DebiasbenchError, TrainingDiverged
from debiasbench.lm.logprobs import collate, logits_of, model_device, target_logprobs
from debiasbench.plugin_system.interfaces import ModelHandle
from debiasbench.runtime.progress import progress_bar
from debiasbench.training.loop import trained_weights
from debiasbench.training.losses import nll_loss
from debiasbench.training.parallel import Parallel
from debiasbench.training.weights import trainable

GRAD_CLIP = 1.0
"""The unlearning loop's default clip (``TrainingOptions.grad_clip``)."""
MAX_LENGTH = 128
"""Tokens per text, prefix token included, where the method's options name none (``TrainingOptions.max_length``)."""


@dataclass(frozen=True)
class RelearnSettings:
    """What relearning does; ``lora``: the run's training options when it trained LoRA adapters
    (their rank, alpha and targets are reused), None to train all weights."""

    steps: int
    learning_rate: float
    batch_size: int
    seed: int
    source: str  # where the texts come from, for the run record
    lora: Any = None
    max_length: int = MAX_LENGTH


def relearn(handle: ModelHandle, texts: Sequence[str], settings: RelearnSettings, progress: Any = None) -> dict[str, Any]:
    """Fine-tune ``handle.model`` in place for ``settings.steps`` steps on ``texts``; returns the
    run record's ``relearn`` entry (settings, texts and tokens used, first and last loss, weights trained)."""
    started = time.perf_counter()
    max_tokens = max(1, min(settings.max_length, handle.max_length) - 1)  # one position for the prefix token
    encoded = handle.tokenizer(list(texts), add_special_tokens=False, truncation=True, max_length=max_tokens) if texts else {}
    ids = [list(seq) for seq in encoded.get("input_ids", []) if len(seq)]
    if not ids:
        raise DebiasbenchError(f"relearning got no benign text ({settings.source}); choose a forget set with retain text")
    options = settings.lora if settings.lora is not None else SimpleNamespace(lora=False)
    generator = torch.Generator().manual_seed(settings.seed)
    losses: list[float] = []
    seen: set[int] = set()
    with trainable(handle, options, settings.seed) as (model, params):
        parallel = Parallel(model, torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=0.0))
        device = model_device(model)
        try:
            with progress_bar(progress, "relearning", total=settings.steps) as bar:
                for step, batch in zip(range(1, settings.steps + 1), _batches(len(ids), settings.batch_size, generator)):
                    seen.update(batch)
                    mine = parallel.share(batch)
                    losses.append(_step(parallel, params, [ids[i] for i in mine or batch[:1]], bool(mine),
                                        handle.prefix_token_id, device, step))
                    bar.advance(1, loss=losses[-1])
        finally:
            parallel.close()
        weights = trained_weights(params, False)
    return {"steps": settings.steps, "learning_rate": settings.learning_rate, "batch_size": settings.batch_size,
            "seed": settings.seed, "source": settings.source, "texts": len(ids), "texts_used": len(seen),
            "tokens_per_pass": sum(len(s) for s in ids), "lora": settings.lora is not None,
            "loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None,
            "seconds": time.perf_counter() - started, **weights}


def _batches(n: int, size: int, generator: torch.Generator) -> Iterator[list[int]]:
    """Text indices, a fresh seeded order each pass, forever (the last batch of a pass may be short)."""
    while True:
        order = torch.randperm(n, generator=generator).tolist()
        for start in range(0, n, size):
            yield order[start:start + size]


def _step(parallel: Parallel, params: list[Any], seqs: list[list[int]], counts: bool, prefix_id: int, device: Any,
          step: int) -> float:
    """One descent step on this process's share of the batch; returns the batch's mean token NLL.
    A share left empty by a short batch runs one text with no weight (every process joins the averaging)."""
    ids, attn = collate(seqs, prefix_id, device)
    mask = attn[:, 1:].bool()
    loss = nll_loss(target_logprobs(logits_of(parallel.model, ids, attn), ids), mask)
    count = float(mask.sum()) if counts else 0.0
    ((value, total),) = parallel.means([(float(loss.detach()), count)])
    parallel.optimizer.zero_grad(set_to_none=True)
    parallel.backward(parallel.scaled(loss, count, total))
    norm = float(parallel.clip(params, GRAD_CLIP))
    if not (math.isfinite(value) and math.isfinite(norm)):
        raise TrainingDiverged(f"relearning: the loss or gradient norm became {value if not math.isfinite(value) else norm} "
                               f"at step {step}; lower --relearn-learning-rate")
    parallel.optimizer.step()
    return value
