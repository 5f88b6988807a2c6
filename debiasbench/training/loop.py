"""The one training loop behind every loss-based unlearning method.

A method is an :class:`~debiasbench.training.objective.UnlearningLoss` (which forget term, which
retain term, their weight, what they need) plus options; :func:`train` does the rest: tokenise
and select, batch, step, report, stop.

Choices worth knowing:

* **Dropout stays off.** The model is kept in ``eval()`` mode while its weights are trained.
  Gradient ascent has no minimum to settle in; dropout noise makes its steps erratic and the
  run non-reproducible, and the objective is defined on the deterministic model that is
  evaluated afterwards.
* **Divergence leaves the weights untouched.** Losses and the gradient norm are checked
  before ``optimizer.step()``; on NaN/inf :class:`TrainingDiverged` is raised and the weights
  are those before the failing step (the orchestrator discards the run anyway).
* **Stopping** (first rule that fires, checked after every step): ``forget-loss`` (mean
  log-probability of the selected tokens in the batch at or below ``forget_loss_threshold``),
  ``retain-ppl`` (retain perplexity above ``retain_ppl_ceiling`` x its value before
  unlearning, measured every ``retain_every`` steps), ``callback`` (``ctx.on_step`` returned
  True), ``steps`` (``max_steps`` reached), else ``epochs`` (all epochs done).
* **Data parallel under ``accelerate launch``**: every process draws the same batches and
  trains on its share of each; the Accelerator averages the gradients and the stopping figures
  are summed over the processes (:mod:`debiasbench.training.parallel`), so the losses and the
  stopping step are those of one process with the same batch size.
* **One seed decides everything**: the LoRA initialisation (``torch.manual_seed``), then one
  generator for the forget order of each epoch and the retain order, drawn in step order. The
  same seed, options and texts give the same weights.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator
from typing import Any, Literal

import torch

from debiasbench.errors import TrainingDiverged
from debiasbench.lm.logprobs import mean_nll, model_device
from debiasbench.plugin_system.interfaces import ModelHandle, StepInfo, UnlearnContext, UnlearnOutcome
from debiasbench.runtime.progress import progress_bar
from debiasbench.training.batch import TextBatch, make_batch
from debiasbench.training.data import TrainingData, prepare
from debiasbench.training.losses import ga_loss
from debiasbench.training.objective import UnlearningLoss
from debiasbench.training.parallel import Parallel
from debiasbench.training.reference import Reference
from debiasbench.training.weights import trainable


def train(method_name: str, handle: ModelHandle, options: Any, ctx: UnlearnContext, loss: UnlearningLoss) -> UnlearnOutcome:
    """Minimise ``loss`` on ``handle.model`` in place until a stopping rule fires.

    ``options`` is a :class:`~debiasbench.training.options.TrainingOptions` (or a subclass; a
    ``selector`` field unless ``loss.select_all``). ``UnlearnOutcome.info`` records what the loop
    knows (timings, dropped texts, selector, LoRA, reference, retain perplexity) for the run record.
    """
    started = time.perf_counter()
    data = prepare(method_name, handle, options, ctx, loss)
    with trainable(handle, options, ctx.seed, ctx.gradient_checkpointing) as (model, params):
        optimizer = torch.optim.AdamW(params, lr=options.learning_rate, weight_decay=options.weight_decay)
        loop = _Loop(method_name, handle, model, options, ctx, loss, data, optimizer, params)
        try:
            outcome = loop.run()
        finally:
            loop.parallel.close()
        outcome.info.update(trained_weights(params, ctx.gradient_checkpointing))
    outcome.selected_tokens, outcome.total_tokens = data.selected_tokens, data.total_tokens
    outcome.info.update(_info(method_name, options, ctx, loss, data, loop, outcome, time.perf_counter() - started))
    return outcome


def _info(method: str, options: Any, ctx: UnlearnContext, loss: UnlearningLoss, data: TrainingData, loop: _Loop,
          outcome: UnlearnOutcome, seconds: float) -> dict[str, Any]:
    info: dict[str, Any] = {
        "method": method, "loss": loss.name, "loss_parameters": _parameters(loss),
        "forget_texts": len(data.ids), "texts_without_selection": data.dropped_texts,
        "planned_steps": loop.total_steps, "seconds": seconds,
        "seconds_per_step": loop.step_seconds / max(outcome.steps, 1),
        "selector": None if loss.select_all else getattr(ctx.selector, "name", getattr(options, "selector", None)),
        "lora": bool(options.lora), "reference": loop.reference.kind,
        "reference_sequences": loop.reference.sequences is not None,
        "processes": loop.parallel.ranks.world_size,  # data-parallel processes (accelerate launch); 1 otherwise
    }
    if loss.needs_retain:
        info["retain_texts"] = len(data.retain_ids)
    if data.ppl_source:
        info["retain_ppl_on"] = data.ppl_source
    info.update({f"selector_{k}": v for k, v in data.selector_notes.items()})
    return info


def trained_weights(params: list[Any], checkpointing: bool) -> dict[str, Any]:
    """How many weights trained, in which dtypes (AdamW keeps its two moments in each weight's
    dtype: bfloat16 weights mean bfloat16 optimizer states), and whether activations were recomputed."""
    dtypes = sorted({str(p.dtype).removeprefix("torch.") for p in params})
    return {"trained_parameters": int(sum(p.numel() for p in params)), "trained_dtypes": dtypes,
            "gradient_checkpointing": bool(checkpointing)}


def _parameters(loss: UnlearningLoss) -> dict[str, Any]:
    """The loss's own fields; ``alpha`` only where there is a retain term for it to weigh."""
    values = dataclasses.asdict(loss)
    if not loss.needs_retain:
        values.pop("alpha", None)
    return values


class _Loop:
    """One unlearning run: batches, steps, stopping rules, history."""

    def __init__(self, method: str, handle: ModelHandle, model: Any, options: Any, ctx: UnlearnContext,
                 loss: UnlearningLoss, data: TrainingData, optimizer: Any, params: list[Any]) -> None:
        self.method, self.handle, self.model, self.options, self.ctx = method, handle, model, options, ctx
        self.loss, self.data, self.params = loss, data, params
        self.parallel = Parallel(model, optimizer)  # under accelerate launch: the Accelerator's model and optimizer
        self.optimizer = self.parallel.optimizer
        self.device = model_device(model)
        self.generator = torch.Generator().manual_seed(ctx.seed)
        planned = options.epochs * math.ceil(len(data.ids) / options.batch_size)
        self.total_steps = min(planned, options.max_steps) if options.max_steps else planned
        self.reference = Reference(model, bool(options.lora), loss.name, keep_model=loss.needs_reference)
        if loss.needs_reference_sequences:
            self.reference.compute_sequences(data.ids, data.masks, handle.prefix_token_id, options.batch_size, self.device)
        self.retain_batches = self._retain_cycle() if loss.needs_retain else None
        self.ppl_start: float | None = None
        self.step_seconds = 0.0

    def _retain_cycle(self) -> Iterator[list[int]]:
        """Retain text indices, a fresh seeded order each pass, forever."""
        n = len(self.data.retain_ids)
        while True:
            order = torch.randperm(n, generator=self.generator).tolist()
            for start in range(0, n, self.options.batch_size):
                yield order[start:start + self.options.batch_size]

    def _forget_batches(self) -> Iterator[tuple[int, int, list[int]]]:
        """``(step, epoch, forget indices)``; each epoch's order is drawn when it begins."""
        step = 0
        for epoch in range(1, self.options.epochs + 1):
            order = torch.randperm(len(self.data.ids), generator=self.generator).tolist()
            for start in range(0, len(order), self.options.batch_size):
                step += 1
                yield step, epoch, order[start:start + self.options.batch_size]

    # ----------------------------------------------------------------- running

    def run(self) -> UnlearnOutcome:
        history: list[StepInfo] = []
        reason = None
        if self.data.ppl_ids:
            self.ppl_start = self._retain_perplexity()
        with progress_bar(self.ctx.progress, "unlearning", total=self.total_steps) as bar:
            for step, epoch, indices in self._forget_batches():
                began = time.perf_counter()
                info = self._step(indices, step, epoch)
                self.step_seconds += time.perf_counter() - began
                history.append(info)
                bar.advance(1, **_shown(info))
                reason = self._stop_reason(info)
                if reason is None and self.options.max_steps and step >= self.options.max_steps:
                    reason = "steps"
                reason = self.parallel.agree(reason)
                if reason:
                    break
        outcome = UnlearnOutcome(steps=len(history), stop_reason=reason or "epochs", history=history)
        if self.ppl_start is not None:
            outcome.info["retain_ppl_start"] = self.ppl_start
            outcome.info["retain_ppl_end"] = self._retain_perplexity()
        return outcome

    def _stop_reason(self, info: StepInfo) -> str | None:
        """Measure what the rules need, report the step, then apply the rules in order."""
        options = self.options
        ceiling_due = options.retain_ppl_ceiling is not None and info.step % options.retain_every == 0
        if ceiling_due:
            info.extra["retain_ppl"] = self._retain_perplexity()
        wants_stop = bool(self.ctx.on_step(info))
        if options.forget_loss_threshold is not None and info.extra["selected_logprob"] <= options.forget_loss_threshold:
            return "forget-loss"
        if ceiling_due and self.ppl_start is not None and info.extra["retain_ppl"] > options.retain_ppl_ceiling * self.ppl_start:
            return "retain-ppl"
        if wants_stop:
            return "callback"
        return None

    def _retain_perplexity(self) -> float:
        nll = mean_nll(self.model, self.data.ppl_ids, self.data.ppl_masks, self.handle.prefix_token_id, self.options.batch_size)
        return math.exp(min(nll, 700.0))

    # ----------------------------------------------------------------- one step

    def _batch(self, kind: Literal["forget", "retain"], indices: list[int]) -> tuple[TextBatch, int]:
        """This process's share of a global batch and how many texts it holds. A share left empty
        by a short last batch runs the batch's first text with no weight, so every process still
        takes part in the gradient averaging."""
        mine = self.parallel.share(indices)
        texts = len(mine)
        mine = mine or indices[:1]
        if kind == "forget":
            seqs, masks = [self.data.ids[i] for i in mine], [self.data.masks[i] for i in mine]
        else:
            seqs, masks = [self.data.retain_ids[i] for i in mine], None
        batch = make_batch(kind, seqs, masks, mine, self.model, self.reference, self.handle.prefix_token_id, self.device,
                           runner=self.parallel.model)
        return batch, texts

    def _count(self, batch: TextBatch, texts: int, mean: str) -> float:
        """What this share's term averages over: its texts, or its counted tokens."""
        return float(texts) if mean == "texts" or not texts else float(batch.mask.sum())

    def _step(self, indices: list[int], step: int, epoch: int) -> StepInfo:
        batch, texts = self._batch("forget", indices)
        forget = self.loss.forget(batch)
        with torch.no_grad():  # the stopping rule's measure, whatever the forget term is
            selected_logprob = float(ga_loss(batch.logprobs().detach(), batch.mask))
        count = self._count(batch, texts, self.loss.forget_mean)
        (forget_value, total), (selected_logprob, _) = self.parallel.means([(float(forget.detach()), count),
                                                                            (selected_logprob, float(texts))])
        self._check(forget_value, "the forget loss", step, epoch)
        self.optimizer.zero_grad(set_to_none=True)
        self.parallel.backward(self.parallel.scaled(forget, count, total))
        retain = self._retain_step(step, epoch)
        clip = self.options.grad_clip if self.options.grad_clip else float("inf")
        grad_norm = self.parallel.clip(self.params, clip)
        self._check(grad_norm, "the gradient norm", step, epoch)
        self.optimizer.step()
        return StepInfo(step=step, epoch=epoch, forget_loss=forget_value, retain_loss=retain,
                        extra={"selected_logprob": selected_logprob, "grad_norm": float(grad_norm)})

    def _retain_step(self, step: int, epoch: int) -> float | None:
        """Backpropagate ``alpha * retain`` on the next retain batch (after the forget term's
        backward, so only one graph is alive at a time)."""
        if self.retain_batches is None:
            return None
        batch, texts = self._batch("retain", next(self.retain_batches))
        retain = self.loss.retain(batch)
        if retain is None:
            return None
        count = self._count(batch, texts, self.loss.retain_mean)
        ((retain_value, total),) = self.parallel.means([(float(retain.detach()), count)])
        self._check(retain_value, "the retain loss", step, epoch)
        self.parallel.backward(self.parallel.scaled(self.loss.alpha * retain, count, total))
        return retain_value

    def _check(self, value: Any, what: str, step: int, epoch: int) -> None:
        number = float(value.detach()) if hasattr(value, "detach") else float(value)
        if not math.isfinite(number):
            raise TrainingDiverged(
                f"{self.method}: {what} became {number} at step {step} (epoch {epoch}); the weights are left as they "
                "were before this step. Lower -o learning_rate, keep -o grad_clip, or stop earlier with -o forget_loss_threshold"
            )


def _shown(info: StepInfo) -> dict[str, float]:
    """What the progress bar shows after a step."""
    shown = {"forget": info.forget_loss}
    if info.retain_loss is not None:
        shown["retain"] = info.retain_loss
    if "retain_ppl" in info.extra:
        shown["ppl"] = info.extra["retain_ppl"]
    return shown
