"""``pcgu``: partitioned contrastive gradient unlearning (Yu, Jeoung, Kasi, Yu, Ji. "Unlearning Bias in
Language Models by Partitioning Gradients", Findings of ACL 2023; github.com/CharlesYu2000/PCGU-UnlearningBias).

For a batch of sentence pairs (advantaged = the stereotyped sentence, disadvantaged = its counterpart;
``debiasbench_unlearn.pairs``), the gradient of each side's score is taken separately; the weights are
cut into blocks and only the ``k`` blocks where the two gradients are least similar are moved, against
the advantaged side's gradient (:mod:`debiasbench_unlearn.methods.partition`). Plain SGD, no schedule, no
clipping, as the original.

The original scores a masked LM's logit of the differing word (it refuses causal LMs); here a
sentence's score is its whole-text log-probability ``log p(x)`` under the causal LM, the quantity the
pair instruments compare. Defaults are the original's command-line defaults: ``k = 10000`` blocks,
learning rate 1e-5, batch 16, 5 epochs, "input" aggregation (rows), new blocks chosen every batch.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from debiasbench import api
from debiasbench.api import (
    DebiasbenchError,
    ModelHandle,
    PresetValues,
    RunFacts,
    StepInfo,
    TrainingDiverged,
    UnlearnContext,
    UnlearningMethod,
    UnlearnOutcome,
    check_range,
    option,
)
from debiasbench_unlearn.pairs import PairOptions, SentencePair, check_pairs, run_pairs

CITATION = ("Yu, Jeoung, Kasi, Yu, Ji. Unlearning Bias in Language Models by Partitioning Gradients. Findings of ACL 2023. "
            "https://github.com/CharlesYu2000/PCGU-UnlearningBias")


@dataclass
class PCGUOptions(PairOptions):
    k: int = option(10000, "blocks (weight rows and vectors) updated per step: the k whose pair gradients are least similar")
    learning_rate: float = option(1e-5, "SGD learning rate (original -l)")
    epochs: int = option(5, "passes over the pairs (original -n)")
    batch_size: int = option(16, "pairs per step (original -b)")
    max_steps: int | None = option(None, "stop after this many steps; none: epochs decide")
    max_length: int = option(128, "tokens per sentence, prefix token included; longer sentences are cut")

    def __post_init__(self) -> None:
        self.check_pairs_options()
        check_range(self, "k", at_least=1, label="k (PCGU's partition size: blocks updated per step)")
        check_range(self, "learning_rate", above=0)
        for name in ("epochs", "batch_size", "max_steps"):  # max_steps None: epochs decide
            check_range(self, name, at_least=1)
        check_range(self, "max_length", at_least=2)


def trainable_named(model: Any) -> list[tuple[str, Any]]:
    """Every floating-point weight of the model (tied weights once)."""
    return [(n, p) for n, p in model.named_parameters() if p.is_floating_point()]


def check_k(model: Any, k: int) -> int:
    """The model's block count; one line when ``k`` exceeds it."""
    from debiasbench_unlearn.methods.partition import Partition

    size = Partition.of(trainable_named(model)).size
    if k > size:
        raise DebiasbenchError(f"pcgu: k={k} blocks to update, but this model has only {size} (weight rows and vectors); "
                               f"use -o k=N with N <= {size}")
    return size


class PCGU(UnlearningMethod):
    """Move only the weight blocks whose gradients for a stereotyped sentence and its counterpart disagree most."""

    name = "pcgu"
    description = "PCGU (Yu et al. 2023): SGD against the stereotyped side's gradient on the k weight blocks where the pair's gradients disagree most"
    citation = CITATION
    Options = PCGUOptions
    presets = {"quick": PresetValues(options={"epochs": 1, "max_pairs": 192, "learning_rate": 5e-5})}  # 5 epochs x 1e-5 in one

    def check_run(self, options: Any, run: RunFacts) -> None:
        check_pairs(options, run, run.forget_set)

    def check_model(self, options: Any, model: ModelHandle) -> None:
        check_k(model.model, options.k)

    def unlearn(self, model: ModelHandle, options: Any, ctx: UnlearnContext) -> UnlearnOutcome:
        import torch

        from debiasbench_unlearn.methods.partition import Partition, update_gradients

        started = time.perf_counter()
        check_k(model.model, options.k)
        pairs = run_pairs(options, ctx.run, ctx.forget, ctx.seed)
        adv, dis = _tokenize(model, pairs, options.max_length)
        named = trainable_named(model.model)
        partition = Partition.of(named)
        flags = {n: p.requires_grad for n, p in named}
        for _, p in named:
            p.requires_grad_(True)
        optimizer = torch.optim.SGD([p for _, p in named], lr=options.learning_rate)
        generator = torch.Generator().manual_seed(ctx.seed)
        per_epoch = math.ceil(len(pairs) / options.batch_size)
        total = per_epoch * options.epochs if not options.max_steps else min(per_epoch * options.epochs, options.max_steps)
        history: list[StepInfo] = []
        reason = "epochs"
        try:
            with api.lm.progress_bar(ctx.progress, "unlearning", total=total) as bar:
                for step, epoch, batch in _batches(len(pairs), options, generator):
                    adv_score, adv_grads = _score_grads(model, named, [adv[i] for i in batch])
                    dis_score, dis_grads = _score_grads(model, named, [dis[i] for i in batch])
                    direction = update_gradients(partition, adv_grads, dis_grads, options.k)
                    _apply(named, direction, optimizer, step, epoch)
                    info = StepInfo(step=step, epoch=epoch, forget_loss=adv_score / len(batch),
                                    extra={"disadvantaged_logprob": dis_score / len(batch)})
                    history.append(info)
                    bar.advance(1, forget=info.forget_loss)
                    if ctx.on_step(info):
                        reason = "callback"
                        break
                    if options.max_steps and step >= options.max_steps:
                        reason = "steps"
                        break
        finally:
            optimizer.zero_grad(set_to_none=True)
            for n, p in named:
                p.requires_grad_(flags[n])
            model.model.eval()
        info = {"method": self.name, "pairs": options.pairs, "pair_count": len(pairs), "k": options.k,
                "blocks": partition.size, "planned_steps": total, "seconds": time.perf_counter() - started}
        return UnlearnOutcome(steps=len(history), stop_reason=reason, history=history, info=info)


def _tokenize(handle: ModelHandle, pairs: list[SentencePair], max_length: int) -> tuple[list[list[int]], list[list[int]]]:
    keep = max(1, min(max_length, handle.max_length) - 1)
    enc = handle.tokenizer([p.stereo for p in pairs] + [p.anti for p in pairs], add_special_tokens=False,
                           truncation=True, max_length=keep)["input_ids"]
    ids = [list(x) or [handle.prefix_token_id] for x in enc]
    return ids[:len(pairs)], ids[len(pairs):]


def _batches(n: int, options: Any, generator: Any) -> Any:
    """``(step, epoch, pair indices)``, a seeded order per epoch."""
    import torch

    step = 0
    for epoch in range(1, options.epochs + 1):
        order = torch.randperm(n, generator=generator).tolist()
        for start in range(0, n, options.batch_size):
            step += 1
            yield step, epoch, order[start:start + options.batch_size]


def _score_grads(handle: ModelHandle, named: list[tuple[str, Any]], seqs: list[list[int]]) -> tuple[float, dict[str, Any]]:
    """The batch's summed sentence log-probability and its gradient per weight."""
    device = api.lm.model_device(handle.model)
    for _, p in named:
        p.grad = None
    ids, attn = api.lm.collate(seqs, handle.prefix_token_id, device)
    lp = api.lm.target_logprobs(api.lm.logits_of(handle.model, ids, attn), ids)
    score = api.training.sequence_logprob(lp, attn[:, 1:].bool()).sum()
    score.backward()
    grads = {n: (p.grad.detach().clone() if p.grad is not None else None) for n, p in named}
    for _, p in named:
        p.grad = None
    return float(score.detach()), grads


def _apply(named: list[tuple[str, Any]], direction: dict[str, Any], optimizer: Any, step: int, epoch: int) -> None:
    """Set each weight's gradient to PCGU's direction (zero outside the chosen blocks) and step."""
    import torch

    norm = torch.sqrt(sum((g.float() ** 2).sum() for g in direction.values())) if direction else torch.tensor(0.0)
    if not math.isfinite(float(norm)):
        raise TrainingDiverged(f"pcgu: the update became {float(norm)} at step {step} (epoch {epoch}); the weights are left "
                               "as they were before this step. Lower -o learning_rate")
    for name, p in named:
        g = direction.get(name)
        p.grad = g.to(p.dtype) if g is not None else torch.zeros_like(p)
    optimizer.step()
