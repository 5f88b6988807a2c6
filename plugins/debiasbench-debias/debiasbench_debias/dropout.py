"""``dropout``: continued pre-training with raised dropout (Webster et al. 2020), as bias-bench applies it.

bias-bench (``experiments/run_clm.py --dropout_debias``) sets GPT-2's ``resid_pdrop``,
``embd_pdrop`` and ``attn_pdrop`` to 0.15 and continues causal-LM training on a Wikipedia dump
(2,000 steps, the same schedule as CDA)::

    L(theta) = -(1/|T|) sum_i log p_theta(x_i | x_<i),  with dropout(p = 0.15) on attention and hidden states

The shared loop keeps the model in eval mode (dropout off) by design. This method still uses the
loop: its loss switches the model to train mode for its own forward pass only (the loop's stopping
measure reuses that same forward, and the backward pass does not depend on the mode), so dropout
acts exactly while the training loss is computed. Probabilities are raised for the run and
restored afterwards (:mod:`debiasbench_debias.dropout_modules`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from debiasbench import api
from debiasbench.api import ModelHandle, PresetValues, UnlearnContext, UnlearnOutcome, option, RunFacts
from debiasbench.api.training import LossMethod, TrainingOptions
from debiasbench_debias.common import CORPUS_HELP, check_corpus_run, check_count, corpus_sentences, data_checksums, run_inputs, unused_forget
from debiasbench_debias.continued_training import CausalLMLoss, as_forget_texts, train_on_texts
from debiasbench_debias.corpus import check_corpus_option
from debiasbench_debias.dropout_modules import raised_dropout, train_mode

if TYPE_CHECKING:  # pragma: no cover - typing only
    from torch import Tensor

    from debiasbench.api.training import TextBatch


@dataclass
class DropoutOptions(TrainingOptions):
    learning_rate: float = option(5e-5, "AdamW learning rate (bias-bench: the Hugging Face Trainer default, 5e-5)")
    epochs: int = option(1, "passes over the corpus sentences")
    max_steps: int | None = option(200, "stop after this many steps (bias-bench: 2,000 steps of 256 x 1,024-token blocks on a GPU); none: epochs decide")
    dropout: float = option(0.15, "dropout probability on attention and hidden states while training (bias-bench: 0.15)")
    corpus: str = option("", CORPUS_HELP)
    max_sentences: int | None = option(None, "at most this many corpus sentences (a seeded sample); none: all")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_corpus_option(self.corpus)
        check_count("max_sentences", self.max_sentences)
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout is a probability in [0, 1), got {self.dropout}")


@dataclass
class DropoutLMLoss(CausalLMLoss):
    """:class:`CausalLMLoss` computed in train mode, so the raised dropout is active."""

    def forget(self, batch: TextBatch) -> Tensor:
        with train_mode(batch.model):
            return api.training.nll_loss(batch.logprobs(), batch.mask)


class Dropout(LossMethod):
    """Continued LM training on the corpus with dropout raised to ``dropout``."""

    name: ClassVar[str] = "dropout"
    description: ClassVar[str] = "continued LM training on a corpus with dropout raised to 0.15 on attention and hidden states (bias-bench)"
    Options: ClassVar[type] = DropoutOptions
    needs_forget: ClassVar[bool] = False  # learns from a corpus and attribute words: a run loads no forget set
    Loss = DropoutLMLoss
    presets: ClassVar[dict[str, PresetValues]] = {"quick": PresetValues(options={"max_steps": 10, "max_sentences": 160})}

    def check_run(self, options: Any, run: RunFacts) -> None:
        check_corpus_run(run, options.corpus, words=False)

    def unlearn(self, model: ModelHandle, options: Any, ctx: UnlearnContext) -> UnlearnOutcome:
        inputs = run_inputs(self.name, ctx, words=False)
        sentences = corpus_sentences(inputs, options.corpus, options.max_sentences, ctx.seed)
        texts = as_forget_texts([(s, "corpus") for s in sentences], inputs.domain, "dropout")
        with raised_dropout(model.model, options.dropout) as changed:
            outcome = train_on_texts(self.name, model, options, ctx, self.loss(options), texts)
        outcome.info.update(unused_forget(ctx))
        outcome.info.update({"debiasing": "dropout", "dropout": options.dropout, "dropout_changed": changed,
                             "corpus_sentences": len(sentences), "corpus": options.corpus or "default",
                             "data_checksums": data_checksums(inputs, options.corpus)})
        return outcome
