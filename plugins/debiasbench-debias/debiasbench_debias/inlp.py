"""``inlp``: iterative nullspace projection (Ravfogel et al. 2020), as bias-bench applies it to GPT-2.

Representations ``h`` (the input of the output layer, mean-pooled over a sentence) of labelled
corpus sentences train a linear classifier ``W_1`` for the protected attribute; the data is
projected onto its nullspace and the next classifier ``W_2`` is trained on that, and so on::

    P = I - P_R(P_R(W_1) + ... + P_R(W_n)),   P_R(W) = projection onto the row space of W

(Ben-Israel's formula for ``N(W_1) n ... n N(W_n)``), then ``logits = W_out P h``: the output
layer's weight becomes ``W_out P`` (linear, so ``--save-model`` saves ordinary weights).

bias-bench (``debias/inlp/context_nullspace_projection.py``): ``LinearSVC(fit_intercept=False,
dual=False)`` (C = 1), 80 classifiers for GPT-2, ``min_accuracy = 0`` (every classifier kept),
10,000 sentences per class, a 70/30 train/dev split of the training part; the projection is applied
to ``last_hidden_state`` by a forward hook, which is the same as ``W_out P``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from debiasbench.api import DebiasbenchError, ModelHandle, PresetValues, UnlearnContext, UnlearningMethod, UnlearnOutcome, option, RunFacts
from debiasbench_debias.attributes import group_names
from debiasbench_debias.common import CorpusOptions, check_corpus_run, check_count, corpus_path, data_checksums, read_corpus, run_inputs, unused_forget
from debiasbench_debias.features import final_hidden_states
from debiasbench_debias.inlp_data import Classes, labelled_sentences, scheme_for
from debiasbench_debias.linear_svm import accuracy, fit_linear_svm
from debiasbench_debias.projection import nullspace_projection, project_output_layer, rowspace_projection


@dataclass
class INLPOptions(CorpusOptions):
    iterations: int = option(80, "classifiers trained, one nullspace projection each (bias-bench for GPT-2: 80)")
    svm_c: float = option(1.0, "the linear SVM's C (bias-bench: LinearSVC's default, 1.0)")
    per_class: int = option(10000, "at most this many sentences per class (bias-bench: 10,000)")
    classes: Classes = option("bias-bench", "bias-bench: male/female/neutral for gender, attribute/neutral for race and religion; "
                                            "groups: one class per group (the word tuples' columns) + neutral; attribute: any group vs neutral")
    dev_fraction: float = option(0.3, "share of the sentences held out to report each classifier's accuracy (bias-bench: 0.3)")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_count("iterations", self.iterations)
        check_count("per_class", self.per_class, 2)
        if self.svm_c <= 0:
            raise ValueError(f"svm_c must be positive, got {self.svm_c}")
        if not 0.0 < self.dev_fraction < 1.0:
            raise ValueError(f"dev_fraction must be between 0 and 1, got {self.dev_fraction}")


@dataclass
class INLPResult:
    """The projection and what the run record keeps of it."""

    P: np.ndarray
    directions: list[np.ndarray]  # each classifier's weights (k x d)
    dev_accuracy: list[float]  # of classifier i on the dev set projected by the previous i-1 steps


def inlp_projection(X_train: np.ndarray, y_train: np.ndarray, X_dev: np.ndarray, y_dev: np.ndarray,
                    iterations: int, C: float = 1.0) -> INLPResult:
    """The INLP loop: classify, project onto the intersection of the nullspaces so far, repeat."""
    dim, classes = X_train.shape[1], np.unique(y_train)
    P, rowspaces, directions, dev_accuracy = np.eye(dim), [], [], []
    for _ in range(iterations):
        W = fit_linear_svm(X_train @ P, y_train, C)
        dev_accuracy.append(accuracy(W, X_dev @ P, y_dev, classes))
        directions.append(W)
        rowspaces.append(rowspace_projection(W))
        P = nullspace_projection(rowspaces, dim)
    return INLPResult(P=P, directions=directions, dev_accuracy=dev_accuracy)


def split(n: int, dev_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train and dev row indices."""
    order = np.random.default_rng(seed).permutation(n)
    cut = max(1, int(round(n * dev_fraction)))
    return order[cut:], order[:cut]


class INLP(UnlearningMethod):
    """Project the output layer's input onto the nullspace of iteratively trained attribute classifiers."""

    name: ClassVar[str] = "inlp"
    description: ClassVar[str] = "iterative nullspace projection of the output layer's input against attribute classifiers (bias-bench)"
    Options: ClassVar[type] = INLPOptions
    needs_forget: ClassVar[bool] = False  # learns from a corpus and attribute words: a run loads no forget set
    presets: ClassVar[dict[str, PresetValues]] = {"quick": PresetValues(options={"iterations": 10, "per_class": 300})}

    def check_run(self, options: Any, run: RunFacts) -> None:
        check_corpus_run(run, options.corpus)

    def unlearn(self, model: ModelHandle, options: Any, ctx: UnlearnContext) -> UnlearnOutcome:
        inputs = run_inputs(self.name, ctx)
        matcher = inputs.words
        scheme = scheme_for(options.classes, matcher.width)
        names = group_names(inputs.domain, matcher.width)
        sentences = read_corpus(corpus_path(inputs.data, options.corpus))
        texts, labels = labelled_sentences(matcher, sentences, scheme, names, options.per_class, ctx.seed)
        if len(set(labels) - {"neutral"}) < 1 or len(set(labels)) < 2:
            raise DebiasbenchError(f"corpus has too few {inputs.domain} attribute sentences for INLP's classes "
                                   f"(found {sorted(set(labels))}); choose a corpus that names the groups")
        X = final_hidden_states(model, texts, batch_size=options.batch_size, max_length=options.max_length)
        y = np.asarray(labels)
        train, dev = split(len(y), options.dev_fraction, ctx.seed)
        result = inlp_projection(X[train], y[train], X[dev], y[dev], options.iterations, options.svm_c)
        applied = project_output_layer(model.model, result.P)
        counts = {label: int((y == label).sum()) for label in sorted(set(labels))}
        majority = max(counts.values()) / len(y)
        info = {"debiasing": "inlp", "domain": inputs.domain, "classes": counts, "scheme": scheme,
                "dev_accuracy_first": result.dev_accuracy[0], "dev_accuracy_last": result.dev_accuracy[-1],
                "dev_majority_share": majority, "corpus": options.corpus or "default",
                "data_checksums": data_checksums(inputs, options.corpus), **applied, **unused_forget(ctx)}
        return UnlearnOutcome(steps=0, stop_reason="projection", info=info)
