"""``altpo``: alternate preference optimisation (Mekala et al. 2024, "Alternate Preference Optimization
for Unlearning Factual Knowledge in Large Language Models", arXiv:2409.13474), as open-unlearning's
``community/methods/AltPO``: DPO (the ``dpo`` loss of this zoo) whose preferred text is an alternate the
model itself generates, so the model is steered to a plausible answer of its own rather than to none.

Alternates: each forget text is cut after its first ``prompt_fraction`` of words (at least one word);
the model continues that prompt by sampling (temperature 1, ``generate.yaml``), for as many new tokens
as the rest of the text had (at most ``max_new_tokens``), seeded by the run's seed. The preferred text is
prompt + continuation, the rejected one the forget text. A text whose alternate equals it, or has no
rest to replace, is dropped and counted (``altpo_unpaired_texts``). open-unlearning samples 5 alternates
per question; here one per text.

Defaults are ``community/methods/AltPO/run.sh``'s middle grid point: ``beta = 0.1``, ``alpha = 1``,
learning rate 1e-5 (its grid: 1e-5 .. 5e-5), 2 epochs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from debiasbench import api
from debiasbench.api import (
    DebiasbenchError,
    ForgetText,
    ModelHandle,
    UnlearnContext,
    UnlearnOutcome,
    check_range,
    option,
)
from debiasbench.api.training import TrainingOptions
from debiasbench_unlearn.methods.common import OptionalRetainMethod, quick
from debiasbench_unlearn.methods.dpo import DPOLoss, DPOWithRetain
from debiasbench_unlearn.methods.preferred import PreferredSide, forget_tokens


@dataclass
class AltPOOptions(TrainingOptions):
    beta: float = option(0.1, "DPO inverse temperature beta (AltPO run.sh grid middle)")
    alpha: float = option(1.0, "weight of the retain NLL term; 0: no retain term (AltPO run.sh grid)")
    prompt_fraction: float = option(0.5, "share of each forget text's words kept as the prompt of its alternate")
    max_new_tokens: int = option(32, "most tokens generated per alternate")
    temperature: float = option(1.0, "sampling temperature of the alternates (AltPO generate.yaml)")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "beta", above=0)
        check_range(self, "alpha", at_least=0)
        check_range(self, "prompt_fraction", above=0, below=1)
        check_range(self, "max_new_tokens", at_least=1)
        check_range(self, "temperature", above=0)


def split_prompt(text: str, fraction: float) -> tuple[str, str]:
    """The first ``fraction`` of the words (at least one) and the rest, both with their spacing."""
    words = text.split()
    keep = max(1, int(len(words) * fraction))
    if keep >= len(words):
        return text, ""
    cut, pos = 0, 0
    for _ in range(keep):
        pos = text.index(words[cut], pos) + len(words[cut])
        cut += 1
    return text[:pos], text[pos:]


def alternates(handle: ModelHandle, forget: Sequence[ForgetText], options: Any, seed: int) -> tuple[list[ForgetText], list[str]]:
    """The kept forget texts and the model's alternate for each (sampled, seeded)."""
    cuts = [split_prompt(t.text, options.prompt_fraction) for t in forget]
    todo = [i for i, (_, rest) in enumerate(cuts) if rest.strip()]
    if not todo:
        return [], []
    rest_tokens = [len(handle.tokenizer(cuts[i][1], add_special_tokens=False)["input_ids"]) for i in todo]
    settings = api.lm.DecodingSettings(max_new_tokens=min(options.max_new_tokens, max(rest_tokens)), sampling=True,
                                    temperature=options.temperature, seed=seed)
    generated = api.lm.generate(handle, [cuts[i][0] for i in todo], settings, keys=[forget[i].text for i in todo],
                             batch_size=options.batch_size)
    kept, preferred = [], []
    for i, n, gen in zip(todo, rest_tokens, generated):
        ids = list(gen.token_ids)[:max(n, 1)]
        alternate = cuts[i][0] + handle.tokenizer.decode(ids, skip_special_tokens=True)
        if alternate.strip() and alternate != forget[i].text:
            kept.append(forget[i])
            preferred.append(alternate)
    return kept, preferred


class AltPO(OptionalRetainMethod):
    """DPO with the forget text rejected and the model's own sampled alternate preferred."""

    name = "altpo"
    description = "AltPO (Mekala et al. 2024): DPO with the forget text rejected and the model's own sampled alternate preferred"
    Options = AltPOOptions
    Loss = DPOWithRetain
    ForgetOnly = DPOLoss
    presets = quick()

    def unlearn(self, model: ModelHandle, options: Any, ctx: UnlearnContext) -> UnlearnOutcome:
        kept, preferred = alternates(model, ctx.forget, options, ctx.seed)
        if not kept:
            raise DebiasbenchError("altpo: no forget text got an alternate different from itself; raise -o prompt_fraction's rest "
                                   "(lower prompt_fraction) or -o max_new_tokens")
        loss = self.loss(options)
        side = PreferredSide.build(model, kept, preferred, forget_tokens(options, model), options.batch_size)
        loss.attach(side, len(ctx.forget) - len(kept))
        outcome = api.training.train(self.name, model, options, dataclasses.replace(ctx, forget=kept), loss)
        outcome.info.update({"altpo_unpaired_texts": loss.unpaired_texts,
                             "altpo_examples": [{"forget": k.text, "alternate": p} for k, p in zip(kept[:3], preferred[:3])]})
        return outcome
