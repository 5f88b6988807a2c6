"""``self-debias``: self-debiasing (Schick et al. 2021), as bias-bench applies it to GPT-2.

A decoding-time method: no weight changes. The model is wrapped so every likelihood it reports is
the self-debiased one (:mod:`debiasbench_debias.self_debias_model`)::

    p~(w|x) ∝ p(w|x) * max(exp(-lambda * max(0, p(w|y,x) - p(w|x))), epsilon)

with ``y`` the domain's bias-describing prefix, bias-bench's ``DEBIASING_PREFIXES``
(``benchmark/crows/crows.py``): "The following text discriminates against people because of
their gender: " (race: "race/color", religion: "religion"), ``lambda = 50`` (``decay_constant``)
and ``epsilon = 0.01`` (``debias/self_debias/modeling.py``).

``--save-model`` is refused with one line: a folder of the base weights would load as the
undebiased model, and no model provider reads a self-debiasing recipe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from debiasbench.api import DebiasbenchError, ModelHandle, UnlearnContext, UnlearningMethod, UnlearnOutcome, option, RunFacts

PREFIXES: dict[str, str] = {
    "gender": "The following text discriminates against people because of their gender: ",
    "race": "The following text discriminates against people because of their race/color: ",
    "religion": "The following text discriminates against people because of their religion: ",
    "sexual-orientation": "The following text discriminates against people because of their sexual orientiation: ",
    "age": "The following text discriminates against people because of their age: ",
    "nationality": "The following text discriminates against people because of their nationality: ",
    "disability": "The following text discriminates against people because of their disability: ",
    "physical-appearance": "The following text discriminates against people because of their physical appearance: ",
    "socioeconomic": "The following text discriminates against people because of their socioeconomic status/occupation: ",
}
"""bias-bench's prefixes by CrowS-Pairs bias type (``race-color`` is debiasbench's ``race``; the
misspelt "orientiation" is bias-bench's and kept)."""


@dataclass
class SelfDebiasOptions:
    decay_constant: float = option(50.0, "lambda: how strongly tokens the prefix makes likelier are down-weighted (bias-bench: 50)")
    epsilon: float = option(0.01, "smallest factor a probability is multiplied by (bias-bench: 0.01)")
    prefix: str = option("", "the bias-describing prefix; empty: bias-bench's prefix for --domain")

    def __post_init__(self) -> None:
        if self.decay_constant < 0:
            raise ValueError(f"decay_constant (lambda) must be 0 or more, got {self.decay_constant}")
        if not 0.0 < self.epsilon <= 1.0:
            raise ValueError(f"epsilon must be in (0, 1], got {self.epsilon}")


def prefix_for(domain: str, prefix: str) -> str:
    """The explicit prefix, else bias-bench's for the domain (one line when it has none)."""
    if prefix:
        return prefix
    if domain not in PREFIXES:
        raise DebiasbenchError(f"self-debias has no prefix for domain {domain!r} (bias-bench's: {', '.join(PREFIXES)}); "
                               "give one with -o prefix='The following text discriminates against ...: '")
    return PREFIXES[domain]


class SelfDebias(UnlearningMethod):
    """Wrap the model so its next-token distribution is self-debiased."""

    name: ClassVar[str] = "self-debias"
    aliases: ClassVar[tuple[str, ...]] = ("selfdebias",)
    description: ClassVar[str] = "self-debiasing at decoding time: down-weight tokens a bias-describing prefix makes likelier (Schick et al. 2021, bias-bench)"
    Options: ClassVar[type] = SelfDebiasOptions
    needs_forget: ClassVar[bool] = False  # learns from a corpus and attribute words: a run loads no forget set

    def check_run(self, options: Any, run: RunFacts) -> None:
        prefix_for(run.domain, options.prefix)
        if run.save_model:
            raise DebiasbenchError("--save-model: self-debias changes decoding, not weights, so a saved folder would load as the "
                                   "base model; leave --save-model out")

    def unlearn(self, model: ModelHandle, options: Any, ctx: UnlearnContext) -> UnlearnOutcome:
        from debiasbench_debias.common import unused_forget
        from debiasbench_debias.self_debias_model import SelfDebiasingLM

        domain = (ctx.selector_ctx.domain if ctx.selector_ctx is not None else "") or (ctx.forget[0].domain if ctx.forget else "")
        text = prefix_for(domain, options.prefix)
        ids = list(model.tokenizer(text, add_special_tokens=False)["input_ids"])
        if isinstance(model.model, SelfDebiasingLM):
            raise DebiasbenchError("this model is already self-debiased")
        model.model = SelfDebiasingLM(model.model, ids, options.decay_constant, options.epsilon).eval()
        info = {"debiasing": "self-debias", "domain": domain, "prefix": text, "prefix_tokens": len(ids),
                "decay_constant": options.decay_constant, "epsilon": options.epsilon,
                "decoding_time": True, "save_model": "refused: not a weight change", **unused_forget(ctx)}
        return UnlearnOutcome(steps=0, stop_reason="decoding", info=info)
