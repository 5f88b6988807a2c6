"""``biasunlearn``: BiasUnlearn (EMNLP 2025; github.com/a101269/BiasUnlearn, ``loss.py`` / ``train.py``).

On sentence pairs (stereotyped ``s``, anti-stereotyped ``a``; ``debiasbench_unlearn.pairs``), per step::

    L = ster_weight * NPO(s) + anti_weight * CE(a) + kl_weight * KL(p_ref || p_theta)

* ``NPO(s) = -(2/beta) log sigmoid(beta (CE_theta(s) - CE_ref(s)))``, where ``CE(x)`` is the batch mean
  of each text's token-mean NLL (the original's ``lm_loss("gd")`` on the model and the frozen reference:
  NPO of the batch's mean log-ratio, not a mean of per-text NPO terms);
* ``CE(a)``: the same token-mean NLL on a batch of anti-stereotyped sentences (retention);
* ``KL``: per position against the frozen starting model, here on the anti-stereotyped batch (the
  original uses StereoSet's unrelated sentences, which are evaluated items in this toolkit; its
  ``compute_kl`` is the cross-entropy ``H(p_ref, p_theta)``, the same gradient as the KL).

**Swap.** Every ``swap_every`` steps the model's preference on the training pairs is measured (the
share of pairs with ``log p(s) > log p(a)``, x100). Below 50 the bias has reversed, and the roles swap
(NPO on the anti-stereotyped side, CE on the stereotyped side), as the original swaps its forget and
retain loaders when its bias score falls below its base; within ``balance_gap`` of 50 it stops
(``stop_reason`` ``callback``, ``method_info.biasunlearn_stop = balanced``). The original decides on its
StereoSet evaluator, whose items it also trains on; here the decision uses the training pairs only.

Defaults are ``run.sh``'s: learning rate 4e-5, weights 0.5 / 0.3 / 0.2, ``beta = 0.1``, 1000 steps,
batch 4 (its ``ster_batch_size``). Not reproduced: its linear warm-up schedule (the core loop has none)
and LoRA by default (``-o lora=true``).
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from debiasbench import api
from debiasbench.api import (
    ForgetText,
    ModelHandle,
    PresetValues,
    RunFacts,
    StepInfo,
    UnlearnContext,
    UnlearnOutcome,
    check_range,
    option,
)
from debiasbench.api.training import LossMethod, TrainingOptions, UnlearningLoss
from debiasbench_unlearn.pairs import PairOptions, SentencePair, check_pairs, run_pairs

if TYPE_CHECKING:  # pragma: no cover - typing only
    from torch import Tensor

    from debiasbench.api.training import TextBatch

CITATION = ("BiasUnlearn: Mitigating stereotypes in language models by unlearning. EMNLP 2025. "
            "https://github.com/a101269/BiasUnlearn")


@dataclass
class BiasUnlearnOptions(PairOptions, TrainingOptions):
    learning_rate: float = option(4e-5, "AdamW learning rate (BiasUnlearn run.sh)")
    epochs: int = option(3, "passes over the stereotyped sentences (max_steps usually stops first)")
    max_steps: int | None = option(1000, "stop after this many steps (run.sh max_unlearn_steps)")
    batch_size: int = option(4, "stereotyped (and anti-stereotyped) sentences per step (run.sh ster_batch_size)")
    beta: float = option(0.1, "NPO inverse temperature (train.py default)")
    ster_weight: float = option(0.5, "weight of the NPO term on stereotyped sentences (run.sh)")
    anti_weight: float = option(0.3, "weight of the NLL term on anti-stereotyped sentences (run.sh)")
    kl_weight: float = option(0.2, "weight of the KL term to the starting model (run.sh)")
    swap_every: int = option(50, "measure the pair preference every N steps: swap roles below 50, stop near 50")
    balance_gap: float = option(2.0, "stop when the pair preference is within this many points of 50 (train.py: gap < 2)")
    preference_pairs: int = option(256, "pairs (seeded sample) the preference is measured on")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_pairs_options()
        for name in ("beta", "ster_weight"):
            check_range(self, name, above=0)
        for name in ("anti_weight", "kl_weight", "balance_gap"):
            check_range(self, name, at_least=0)
        for name in ("swap_every", "preference_pairs"):
            check_range(self, name, at_least=1)


def text_nll(lp: Tensor, mask: Tensor) -> Tensor:
    """Each text's token-mean NLL over ``mask`` (B,)."""
    return -(lp * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1).to(lp.dtype)


def batch_npo(nll_theta: Tensor, nll_ref: Tensor, beta: float) -> Tensor:
    """``-(2/beta) log sigmoid(beta (mean(nll_theta) - mean(nll_ref)))``: BiasUnlearn's NPO on batch means."""
    import torch.nn.functional as F

    return -(2.0 / beta) * F.logsigmoid(beta * (nll_theta.mean() - nll_ref.mean()))


@dataclass
class BiasUnlearnLoss(UnlearningLoss):
    """Forget batch = stereotyped sentences, retain batch = anti-stereotyped ones; ``swapped`` exchanges
    their roles (set by :class:`BiasUnlearn` from the pair preference)."""

    beta: float = 0.1
    ster_weight: float = 0.5
    anti_weight: float = 0.3
    kl_weight: float = 0.2
    needs_retain = True
    needs_reference = True  # the frozen starting model: NPO's reference and the KL term
    select_all = True  # whole sentences
    forget_mean = "texts"
    retain_mean = "texts"
    swapped = False  # not a loss parameter: the current direction

    def _npo(self, batch: TextBatch) -> Tensor:
        return batch_npo(text_nll(batch.logprobs(), batch.mask), text_nll(batch.reference_logprobs(), batch.mask), self.beta)

    def _nll(self, batch: TextBatch) -> Tensor:
        return text_nll(batch.logprobs(), batch.mask).mean()

    def forget(self, batch: TextBatch) -> Tensor:
        return self.anti_weight * self._nll(batch) if self.swapped else self.ster_weight * self._npo(batch)

    def retain(self, batch: TextBatch) -> Tensor:
        main = self.ster_weight * self._npo(batch) if self.swapped else self.anti_weight * self._nll(batch)
        if self.kl_weight == 0:
            return main
        return main + self.kl_weight * api.training.kl_loss(batch.logits(), batch.reference_logits(), batch.mask)


def preference(handle: ModelHandle, pairs: list[SentencePair], batch_size: int) -> float:
    """100 x the share of pairs whose stereotyped sentence the model finds more likely (whole-text log-prob)."""
    import torch

    tok = handle.tokenizer
    texts = [p.stereo for p in pairs] + [p.anti for p in pairs]
    ids = [list(x) or [handle.prefix_token_id] for x in tok(texts, add_special_tokens=False)["input_ids"]]
    with torch.no_grad():
        scores = [float(lp.sum()) for lp in api.lm.token_logprobs(handle.model, ids, handle.prefix_token_id, batch_size)]
    n = len(pairs)
    return 100.0 * sum(scores[i] > scores[n + i] for i in range(n)) / max(n, 1)


def pair_texts(pairs: list[SentencePair]) -> tuple[list[ForgetText], list[str]]:
    """Stereotyped sentences as forget texts, anti-stereotyped ones as retain text."""
    forget = [ForgetText(text=p.stereo, domain=p.domain, group="", source=f"pairs:{p.source}") for p in pairs]
    return forget, [p.anti for p in pairs]


class BiasUnlearn(LossMethod):
    """NPO on stereotyped sentences, NLL on their counterparts, KL to the start; roles swap when the bias reverses."""

    name = "biasunlearn"
    description = "BiasUnlearn (EMNLP 2025): NPO on stereotyped sentences + NLL on anti-stereotyped ones + KL, swapped when the bias reverses"
    citation = CITATION
    Options = BiasUnlearnOptions
    Loss = BiasUnlearnLoss
    presets = {"quick": PresetValues(options={"epochs": 1, "max_steps": None, "batch_size": 8, "max_pairs": 192,
                                              "swap_every": 12})}

    def check_run(self, options: Any, run: RunFacts) -> None:
        check_pairs(options, run, run.forget_set)

    def unlearn(self, model: ModelHandle, options: Any, ctx: UnlearnContext) -> UnlearnOutcome:
        pairs = run_pairs(options, ctx.run, ctx.forget, ctx.seed)
        forget, retain = pair_texts(pairs)
        sample = random.Random(ctx.seed).sample(pairs, min(options.preference_pairs, len(pairs)))
        loss = self.loss(options)
        rounds: list[dict[str, float]] = []
        balanced = False

        def on_step(info: StepInfo) -> bool:
            nonlocal balanced
            wants_stop = bool(ctx.on_step(info))
            if info.step % options.swap_every == 0:
                score = preference(model, sample, options.batch_size)
                loss.swapped = score < 50.0
                rounds.append({"step": info.step, "preference": score, "swapped": float(loss.swapped)})
                balanced = abs(score - 50.0) < options.balance_gap
            return wants_stop or balanced

        start = preference(model, sample, options.batch_size)
        loss.swapped = False
        outcome = api.training.train(self.name, model, options, dataclasses.replace(ctx, forget=forget, retain=retain, on_step=on_step), loss)
        outcome.info.update({"pairs": options.pairs, "pair_count": len(pairs), "pair_preference_start": start,
                             "pair_preference_rounds": rounds, "biasunlearn_stop": "balanced" if balanced else outcome.stop_reason})
        return outcome
