"""``sentence-debias``: SentenceDebias (Liang et al. 2020), as bias-bench applies it to GPT-2.

Each corpus sentence with an attribute word yields counterfactual sets: for each word tuple and each
of its words in the sentence, the sentence with that word put into every group's form (``he`` ->
``{he, she}``; ``jewish`` -> ``{jewish, christian, muslim}``). Their representations ``h`` (the
output layer's input, mean-pooled over the sentence, L2-normalised) are centred within each set,
``h_c - mu_set``, and the bias subspace ``V`` is the top ``k`` principal directions of all centred
vectors (bias-bench: ``k = 1``, ``sklearn.decomposition.PCA``). The hidden state is debiased as::

    h' = h - sum_j (h . v_j) v_j = (I - V^T V) h,   so logits = W_out (I - V^T V) h

and the output layer's weight becomes ``W_out (I - V^T V)`` (ordinary weights). bias-bench
(``debias/sentence_debias.py``, ``dataset/sentence_debias.py``) hooks GPT-2's ``last_hidden_state``
the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from debiasbench.api import ModelHandle, PresetValues, UnlearnContext, UnlearningMethod, UnlearnOutcome, option, RunFacts
from debiasbench_debias.common import CorpusOptions, attribute_sentences, check_corpus_run, check_count, data_checksums, run_inputs, unused_forget
from debiasbench_debias.corpus import seeded_sample
from debiasbench_debias.features import final_hidden_states
from debiasbench_debias.projection import project_output_layer, remove_directions


@dataclass
class SentenceDebiasOptions(CorpusOptions):
    components: int = option(1, "principal directions removed, k (bias-bench: 1)")
    pool: Literal["mean", "final"] = option("mean", "sentence representation: mean over its tokens (bias-bench) or the last token")
    max_sets: int | None = option(None, "at most this many counterfactual sets (a seeded sample); none: all")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_count("components", self.components)
        check_count("max_sets", self.max_sets)


def bias_subspace(embeddings: np.ndarray, components: int) -> np.ndarray:
    """``[k, d]`` orthonormal top principal directions of the set-centred ``embeddings`` (``[sets, members, d]``).

    Each vector is L2-normalised, each set's mean is subtracted, and the stacked vectors' principal
    directions are their right singular vectors after removing the overall mean (as PCA does).
    """
    if components > embeddings.shape[-1]:
        raise ValueError(f"components={components} exceeds the representation size {embeddings.shape[-1]}")
    unit = embeddings / np.linalg.norm(embeddings, axis=-1, keepdims=True).clip(min=1e-12)
    centred = (unit - unit.mean(axis=1, keepdims=True)).reshape(-1, embeddings.shape[-1])
    centred = centred - centred.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return vt[:components]


class SentenceDebias(UnlearningMethod):
    """Project the bias subspace of counterfactual sentence sets out of the output layer's input."""

    name: ClassVar[str] = "sentence-debias"
    aliases: ClassVar[tuple[str, ...]] = ("sentencedebias",)
    description: ClassVar[str] = "SentenceDebias: PCA bias subspace of counterfactual sentence sets projected out of the output layer's input (bias-bench)"
    Options: ClassVar[type] = SentenceDebiasOptions
    needs_forget: ClassVar[bool] = False  # learns from a corpus and attribute words: a run loads no forget set
    presets: ClassVar[dict[str, PresetValues]] = {"quick": PresetValues(options={"max_sets": 200})}

    def check_run(self, options: Any, run: RunFacts) -> None:
        check_corpus_run(run, options.corpus)

    def unlearn(self, model: ModelHandle, options: Any, ctx: UnlearnContext) -> UnlearnOutcome:
        inputs = run_inputs(self.name, ctx)
        sets = [s for sentence in attribute_sentences(inputs, options.corpus) for s in inputs.words.counterfactual_sets(sentence)]
        sets = seeded_sample(sets, options.max_sets, ctx.seed)
        width = inputs.words.width
        flat = [member for members in sets for member in members]
        X = final_hidden_states(model, flat, pool=options.pool, batch_size=options.batch_size, max_length=options.max_length)
        V = bias_subspace(X.reshape(len(sets), width, -1), options.components)
        applied = project_output_layer(model.model, remove_directions(V))
        info = {"debiasing": "sentence-debias", "domain": inputs.domain, "counterfactual_sets": len(sets),
                "set_size": width, "components": options.components, "pool": options.pool,
                "corpus": options.corpus or "default", "data_checksums": data_checksums(inputs, options.corpus),
                **applied, **unused_forget(ctx)}
        return UnlearnOutcome(steps=0, stop_reason="projection", info=info)
