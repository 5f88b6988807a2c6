"""The one training loop behind every unlearning method.

A method is an :class:`Objective` (which forget term, which retain term, their weights) plus
options; this module does the rest: tokenise and select, batch, step, report, stop.

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
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from debiasbench.api import progress_bar, DebiasbenchError, ModelHandle, SelectorContext, StepInfo, TokenizedText, TrainingDiverged, UnlearnContext, UnlearnOutcome
from debiasbench_unlearn.selection import tokenize_forget


@dataclass(frozen=True)
class Objective:
    """What a method minimises: ``forget term + alpha * retain term`` (SPEC section 6)."""

    forget: Literal["ga", "npo"] = "ga"
    retain: Literal["none", "nll", "kl"] = "none"
    alpha: float = 0.0
    beta: float = 0.1
    select_all: bool = False  # token-ga: every token, no selector


@dataclass
class _Data:
    """Tokenised forget texts with their selections, and the retain material."""

    ids: list[list[int]]
    masks: list[list[bool]]
    selected_tokens: int
    total_tokens: int
    dropped_texts: int
    retain_ids: list[list[int]] = field(default_factory=list)
    ppl_ids: list[list[int]] = field(default_factory=list)
    ppl_masks: list[list[bool]] = field(default_factory=list)
    ppl_source: str = ""


def unlearn(method: str, handle: ModelHandle, options: Any, ctx: UnlearnContext, objective: Objective) -> UnlearnOutcome:
    """Run ``method`` on ``handle.model`` in place until a stopping rule fires."""
    import torch

    started = time.perf_counter()
    data = _prepare(method, handle, options, ctx, objective)
    model = handle.model
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    torch.manual_seed(ctx.seed)  # LoRA initialisation
    trained = _wrap_lora(model, options) if options.lora else model
    try:
        if not options.lora:
            for p in model.parameters():
                p.requires_grad_(True)
        params = [p for p in trained.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=options.learning_rate, weight_decay=options.weight_decay)
        trained.eval()  # dropout off while training: see the module docstring
        loop = _Loop(method, handle, trained, options, ctx, objective, data, optimizer, params)
        outcome = loop.run()
    finally:
        trained.eval()
        if options.lora:
            handle.model = trained.merge_and_unload()
        for name, p in handle.model.named_parameters():
            p.requires_grad_(flags.get(name, p.requires_grad))
            p.grad = None
    outcome.selected_tokens, outcome.total_tokens = data.selected_tokens, data.total_tokens
    seconds = time.perf_counter() - started
    outcome.info.update({
        "method": method, "forget_texts": len(data.ids), "texts_without_selection": data.dropped_texts,
        "seconds": seconds, "seconds_per_step": loop.step_seconds / max(outcome.steps, 1),
        "selector": None if objective.select_all else getattr(ctx.selector, "name", getattr(options, "selector", None)),
        "lora": bool(options.lora),
    })
    if data.ppl_source:
        outcome.info["retain_ppl_on"] = data.ppl_source
    return outcome


# --------------------------------------------------------------------------- preparation


def _prepare(method: str, handle: ModelHandle, options: Any, ctx: UnlearnContext, objective: Objective) -> _Data:
    if not ctx.forget:
        raise DebiasbenchError(f"method {method!r} got no forget texts")
    max_tokens = max(1, min(options.max_length, handle.max_length) - 1)  # one position for the prefix token
    items = [it for it in tokenize_forget(handle.tokenizer, ctx.forget, max_tokens) if it.input_ids]
    if not items:
        raise DebiasbenchError(f"method {method!r}: every forget text is empty after tokenisation")
    masks = _select(method, handle, items, options, ctx, objective)
    keep = [i for i, m in enumerate(masks) if any(m)]
    data = _Data(
        ids=[items[i].input_ids for i in keep], masks=[masks[i] for i in keep],
        selected_tokens=sum(sum(m) for m in masks), total_tokens=sum(len(m) for m in masks),
        dropped_texts=len(items) - len(keep),
    )
    if objective.retain != "none":
        data.retain_ids = _tokenize(handle.tokenizer, ctx.retain, max_tokens)
        if not data.retain_ids:
            raise DebiasbenchError(f"method {method!r} needs retain text, but none was given; choose a forget set that has retain text")
    if options.retain_ppl_ceiling is not None:
        _perplexity_set(data, handle, ctx, options, max_tokens)
    return data


def _select(method: str, handle: ModelHandle, items: list[TokenizedText], options: Any, ctx: UnlearnContext,
            objective: Objective) -> list[list[bool]]:
    if objective.select_all:
        return [[end > start for start, end in it.offsets] for it in items]
    selector = ctx.selector or ctx.registry.get("selector", options.selector)
    selector_ctx = ctx.selector_ctx
    if selector_ctx is None:
        from debiasbench.api import DataLocator

        selector_ctx = SelectorContext(model=handle, data=DataLocator(), registry=ctx.registry,
                                       domain=items[0].item.domain, seed=ctx.seed)
    masks = selector.select(items, selector_ctx)
    if len(masks) != len(items) or any(len(m) != len(it.input_ids) for m, it in zip(masks, items)):
        raise DebiasbenchError(f"span selector {selector.name!r} returned masks that do not match the tokens of the texts")
    return [list(map(bool, m)) for m in masks]


def _tokenize(tokenizer: Any, texts: Sequence[str], max_tokens: int) -> list[list[int]]:
    if not texts:
        return []
    enc = tokenizer(list(texts), add_special_tokens=False, truncation=True, max_length=max_tokens)
    return [list(ids) for ids in enc["input_ids"] if ids]


def _perplexity_set(data: _Data, handle: ModelHandle, ctx: UnlearnContext, options: Any, max_tokens: int) -> None:
    """Retain text when the orchestrator passed some; else the unselected tokens of the forget
    texts (the context mlm-unlearn means to keep)."""
    rng = random.Random(ctx.seed)
    if ctx.retain:
        texts = list(ctx.retain)
        texts = rng.sample(texts, min(options.retain_eval_texts, len(texts)))
        data.ppl_ids = _tokenize(handle.tokenizer, texts, max_tokens)
        data.ppl_masks = [[True] * len(ids) for ids in data.ppl_ids]
        data.ppl_source = "retain text"
        return
    rows = [i for i, m in enumerate(data.masks) if not all(m)]
    if not rows:
        raise DebiasbenchError("-o retain_ppl_ceiling needs retain text or unselected tokens, and this run has neither "
                               "(every token is selected); use a method that takes retain text or drop the ceiling")
    rows = sorted(rng.sample(rows, min(options.retain_eval_texts, len(rows))))
    data.ppl_ids = [data.ids[i] for i in rows]
    data.ppl_masks = [[not s for s in data.masks[i]] for i in rows]
    data.ppl_source = "unselected forget tokens"


def _wrap_lora(model: Any, options: Any) -> Any:
    try:
        import peft
    except ImportError:
        raise DebiasbenchError("-o lora=true needs the package peft; install it with: pip install peft") from None
    targets = [t.strip() for t in options.lora_targets.split(",") if t.strip()] or None
    config = peft.LoraConfig(r=options.lora_r, lora_alpha=options.lora_alpha, lora_dropout=0.0,
                             target_modules=targets, task_type="CAUSAL_LM")
    try:
        return peft.get_peft_model(model, config)
    except ValueError as exc:
        raise DebiasbenchError(f"LoRA could not wrap this model ({exc}); name its modules with -o lora_targets=q_proj,v_proj") from None


# --------------------------------------------------------------------------- the loop


class _Loop:
    """One unlearning run: batches, steps, stopping rules, history."""

    def __init__(self, method: str, handle: ModelHandle, model: Any, options: Any, ctx: UnlearnContext,
                 objective: Objective, data: _Data, optimizer: Any, params: list[Any]) -> None:
        import torch

        from debiasbench.api import model_device

        self.method, self.handle, self.model, self.options, self.ctx = method, handle, model, options, ctx
        self.objective, self.data, self.optimizer, self.params = objective, data, optimizer, params
        self.device = model_device(model)
        self.generator = torch.Generator().manual_seed(ctx.seed)
        self.steps_per_epoch = math.ceil(len(data.ids) / options.batch_size)
        planned = options.epochs * self.steps_per_epoch
        self.total_steps = min(planned, options.max_steps) if options.max_steps else planned
        self.ref_model = self._reference_model() if objective.retain == "kl" else None
        self.ref_sequence = self._reference_sequences() if objective.forget == "npo" else None
        self.retain_batches = self._retain_cycle() if objective.retain != "none" else None
        self.ppl_start: float | None = None
        self.step_seconds = 0.0

    # ----------------------------------------------------------------- set-up helpers

    def _reference_model(self) -> Any:
        """The frozen ``ref`` of the KL term: the adapter-free base under LoRA, else a copy."""
        if self.options.lora:
            return None  # computed with the adapters disabled
        import copy

        ref = copy.deepcopy(self.model).eval()
        for p in ref.parameters():
            p.requires_grad_(False)
        return ref

    def _reference_sequences(self) -> Any:
        """``log p_ref(y)`` of every forget text, computed once before the first step (NPO)."""
        import torch

        from debiasbench.api import token_logprobs

        lps = token_logprobs(self.model, self.data.ids, self.handle.prefix_token_id, self.options.batch_size)
        sums = [float(lp[[bool(s) for s in mask]].sum()) for lp, mask in zip(lps, self.data.masks)]
        return torch.tensor(sums, dtype=torch.float32, device=self.device)

    def _retain_cycle(self) -> Iterator[list[int]]:
        import torch

        n = len(self.data.retain_ids)
        while True:
            order = torch.randperm(n, generator=self.generator).tolist()
            for start in range(0, n, self.options.batch_size):
                yield order[start:start + self.options.batch_size]

    # ----------------------------------------------------------------- running

    def run(self) -> UnlearnOutcome:
        import torch

        history: list[StepInfo] = []
        reason = None
        if self.data.ppl_ids:
            self.ppl_start = self._retain_perplexity()
        progress = progress_bar(self.ctx.progress, "unlearning", total=self.total_steps)
        with progress as bar:
            step = 0
            for epoch in range(1, self.options.epochs + 1):
                order = torch.randperm(len(self.data.ids), generator=self.generator).tolist()
                for start in range(0, len(order), self.options.batch_size):
                    step += 1
                    began = time.perf_counter()
                    info = self._step(order[start:start + self.options.batch_size], step, epoch)
                    self.step_seconds += time.perf_counter() - began
                    history.append(info)
                    shown = {"forget": info.forget_loss}
                    if info.retain_loss is not None:
                        shown["retain"] = info.retain_loss
                    if "retain_ppl" in info.extra:
                        shown["ppl"] = info.extra["retain_ppl"]
                    bar.advance(1, **shown)
                    reason = self._stop_reason(info)
                    if reason is None and self.options.max_steps and step >= self.options.max_steps:
                        reason = "steps"
                    if reason:
                        break
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
        from debiasbench.api import mean_nll

        nll = mean_nll(self.model, self.data.ppl_ids, self.data.ppl_masks, self.handle.prefix_token_id, self.options.batch_size)
        return math.exp(min(nll, 700.0))

    def _step(self, batch: list[int], step: int, epoch: int) -> StepInfo:
        import torch

        from debiasbench.api import collate, logits_of, pad_masks, target_logprobs
        from debiasbench_unlearn import losses

        ids, attn = collate([self.data.ids[i] for i in batch], self.handle.prefix_token_id, self.device)
        selected = pad_masks([self.data.masks[i] for i in batch], ids.shape[1] - 1, self.device)
        lp = target_logprobs(logits_of(self.model, ids, attn), ids)
        selected_logprob = losses.ga_loss(lp, selected)
        if self.objective.forget == "ga":
            forget = selected_logprob
        else:
            forget = losses.npo_loss(losses.sequence_logprob(lp, selected), self.ref_sequence[batch], self.objective.beta)
        self._check(forget, "the forget loss", step, epoch)
        self.optimizer.zero_grad(set_to_none=True)
        forget.backward()
        retain_value = None
        if self.retain_batches is not None:
            retain = self._retain_term(next(self.retain_batches))
            self._check(retain, "the retain loss", step, epoch)
            (self.objective.alpha * retain).backward()
            retain_value = float(retain.detach())
        clip = self.options.grad_clip if self.options.grad_clip else float("inf")
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, clip)
        self._check(grad_norm, "the gradient norm", step, epoch)
        self.optimizer.step()
        return StepInfo(step=step, epoch=epoch, forget_loss=float(forget.detach()), retain_loss=retain_value,
                        extra={"selected_logprob": float(selected_logprob.detach()), "grad_norm": float(grad_norm)})

    def _retain_term(self, batch: list[int]) -> Any:
        import torch

        from debiasbench.api import collate, logits_of, target_logprobs
        from debiasbench_unlearn import losses

        ids, attn = collate([self.data.retain_ids[i] for i in batch], self.handle.prefix_token_id, self.device)
        real = attn[:, 1:].bool()
        logits = logits_of(self.model, ids, attn)
        if self.objective.retain == "nll":
            return losses.nll_loss(target_logprobs(logits, ids), real)
        with torch.no_grad():
            if self.ref_model is not None:
                ref_logits = logits_of(self.ref_model, ids, attn)
            else:
                with self.model.disable_adapter():
                    ref_logits = logits_of(self.model, ids, attn)
        return losses.kl_loss(logits, ref_logits, real)

    def _check(self, value: Any, what: str, step: int, epoch: int) -> None:
        number = float(value.detach()) if hasattr(value, "detach") else float(value)
        if not math.isfinite(number):
            raise TrainingDiverged(
                f"{self.method}: {what} became {number} at step {step} (epoch {epoch}); the weights are left as they "
                "were before this step. Lower -o learning_rate, keep -o grad_clip, or stop earlier with -o forget_loss_threshold"
            )
