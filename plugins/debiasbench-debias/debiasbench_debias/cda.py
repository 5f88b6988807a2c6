"""``cda``: counterfactual data augmentation (Webster et al. 2020), as bias-bench applies it to GPT-2.

Every corpus sentence ``s`` that contains an attribute word of the domain gets its counterfactual
``s'`` (gender pairs swapped both ways, ``he`` <-> ``she``; race/religion triples by bias-bench's
per-sentence draw of one other group for each group), and the model continues causal-LM training
on ``{s} u {s'}``::

    L(theta) = -(1/|T|) sum_{x in batch} sum_i log p_theta(x_i | x_<i)

bias-bench (``experiments/run_clm.py``, ``batch_jobs/counterfactual_augmentation.sh``) trains GPT-2
for 2,000 steps of 8 x 32 (accumulated) blocks of 1,024 tokens at the Hugging Face Trainer's
default learning rate 5e-5 on a Wikipedia dump; here the defaults are CPU-sized (200 steps of 8
sentences), the learning rate is bias-bench's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, ClassVar

from debiasbench.api import ModelHandle, PresetValues, UnlearnContext, UnlearnOutcome, option, RunFacts
from debiasbench.api.training import LossMethod, TrainingOptions
from debiasbench_debias.common import CORPUS_HELP, RunInputs, attribute_sentences, check_corpus_run, check_count, data_checksums, run_inputs, unused_forget
from debiasbench_debias.continued_training import CausalLMLoss, as_forget_texts, train_on_texts
from debiasbench_debias.corpus import check_corpus_option, seeded_sample


@dataclass
class CDAOptions(TrainingOptions):
    learning_rate: float = option(5e-5, "AdamW learning rate (bias-bench: the Hugging Face Trainer default, 5e-5)")
    epochs: int = option(1, "passes over the original + counterfactual sentences")
    max_steps: int | None = option(200, "stop after this many steps (bias-bench: 2,000 steps of 256 x 1,024-token blocks on a GPU); none: epochs decide")
    corpus: str = option("", CORPUS_HELP)
    max_sentences: int | None = option(None, "at most this many attribute sentences (a seeded sample; each adds its counterfactual); none: all")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_corpus_option(self.corpus)
        check_count("max_sentences", self.max_sentences)


def cda_texts(inputs: RunInputs, sentences: list[str], seed: int) -> list[tuple[str, str]]:
    """Each sentence and its counterfactual (one seeded draw per sentence for triples)."""
    rng = random.Random(seed)
    texts: list[tuple[str, str]] = []
    for sentence in sentences:
        texts += [(sentence, "original"), (inputs.words.counterfactual(sentence, rng), "counterfactual")]
    return texts


class CDA(LossMethod):
    """Two-sided CDA: continued training on attribute sentences and their counterfactuals."""

    name: ClassVar[str] = "cda"
    description: ClassVar[str] = "counterfactual data augmentation: continued LM training on corpus sentences + their group-swapped copies (bias-bench)"
    Options: ClassVar[type] = CDAOptions
    needs_forget: ClassVar[bool] = False  # learns from a corpus and attribute words: a run loads no forget set
    Loss = CausalLMLoss
    presets: ClassVar[dict[str, PresetValues]] = {"quick": PresetValues(options={"max_steps": 10, "max_sentences": 80})}

    def check_run(self, options: Any, run: RunFacts) -> None:
        check_corpus_run(run, options.corpus)

    def unlearn(self, model: ModelHandle, options: Any, ctx: UnlearnContext) -> UnlearnOutcome:
        inputs = run_inputs(self.name, ctx)
        sentences = seeded_sample(attribute_sentences(inputs, options.corpus), options.max_sentences, ctx.seed)
        texts = cda_texts(inputs, sentences, ctx.seed)
        outcome = train_on_texts(self.name, model, options, ctx, self.loss(options),
                                 as_forget_texts(texts, inputs.domain, "cda"))
        outcome.info.update(unused_forget(ctx))
        outcome.info.update({"debiasing": "cda", "domain": inputs.domain, "attribute_sentences": len(sentences),
                             "training_texts": len(texts), "corpus": options.corpus or "default",
                             "data_checksums": data_checksums(inputs, options.corpus),
                             "example": {"original": texts[0][0], "counterfactual": texts[1][0]}})
        return outcome
