"""The ``lambada`` metric (docs/concepts.md, "LAMBADA"): last-word prediction on LAMBADA (OpenAI version), a utility measure.

Each passage splits at its last space: context = the text before it, target = ``" " + last word``. The
target's tokens are those lm-evaluation-harness's ``lambada_openai`` scores: the whole passage is tokenised
(no special tokens) and the target is what follows the context's own tokens (lm-eval's ``_encode_pair``;
trailing spaces of a context would move to the target). The model reads the context's tokens from position
0 with no prefix token, as lm-eval does for a non-empty context (:mod:`debiasbench_metrics.scoring.continuations`).

* ``lambada.accuracy``: 100 x the share of passages whose target tokens are each the greedy argmax given
  the context and the target tokens before them (lm-eval ``acc``); per-passage 0/100 rows with the decision
  itself, so a paired change gets McNemar's test. Ideal 100.
* ``lambada.perplexity``: ``exp(- mean over passages of the target's summed log-probability)`` (lm-eval
  ``perplexity``); per-passage rows of the target's NLL with weight 1, aggregate ``exp-ratio``.
  Lower is better.

The metric returns per-passage rows only; the core computes both figures and their intervals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from debiasbench.api import (
    OVERALL,
    EvalContext,
    MeasureSpec,
    Metric,
    MetricResult,
    ModelHandle,
    PresetValues,
    concat_items,
    item_rows,
    option,
)
from debiasbench.api.lm import BatchSize, check_batch_size
from debiasbench_metrics.scoring.continuations import continuation_scores
from debiasbench_metrics.lambada.dataset import LambadaPassage
from debiasbench_metrics.shared.provenance import data_checksums, table, tokenizer_fingerprint
from debiasbench_metrics.scoring.scorer import encode

ACCURACY, PERPLEXITY = "lambada.accuracy", "lambada.perplexity"
QUICK_PASSAGES = 500
"""Passages of the quick preset: a seeded subset of the 5,153 (the same in every run)."""


@dataclass
class LambadaOptions:
    """Options of the ``lambada`` metric."""

    batch_size: BatchSize = option(16, "passages per forward pass (16: fastest of 4-64 on a 2-core CPU, benchmarks/README.md), or auto: the largest batch that fits the free memory (a GPU)")

    def __post_init__(self) -> None:
        self.batch_size = check_batch_size(self.batch_size)


def target_tokens(handle: ModelHandle, passages: Sequence[LambadaPassage]) -> tuple[list[list[int]], np.ndarray]:
    """Each passage's tokens and its target's token count, split as lm-eval's ``_encode_pair`` splits them."""
    contexts, targets = [], []
    for p in passages:
        spaces = len(p.context) - len(p.context.rstrip())
        contexts.append(p.context[:len(p.context) - spaces])
        targets.append(p.context[len(p.context) - spaces:] + p.target)
    whole = encode(handle, [c + t for c, t in zip(contexts, targets)])
    context_lengths = np.array([len(ids) for ids in encode(handle, contexts)], dtype=np.int64)
    return whole, np.array([len(ids) for ids in whole], dtype=np.int64) - context_lengths


class LambadaMetric(Metric):
    """Last-word accuracy and perplexity on LAMBADA: what unlearning cost in using long context."""

    name: ClassVar[str] = "lambada"
    aliases: ClassVar[tuple[str, ...]] = ("lambada-openai",)
    description: ClassVar[str] = ("LAMBADA (OpenAI): % of passages whose last word is the greedy continuation (ideal 100) "
                                  "and its perplexity (lower is better); a utility measure")
    Options: ClassVar[type] = LambadaOptions
    datasets: ClassVar[tuple[str, ...]] = ("lambada",)
    presets: ClassVar[Mapping[str, PresetValues]] = {"quick": PresetValues(limit=QUICK_PASSAGES), "full": PresetValues()}
    probe: ClassVar[PresetValues | None] = PresetValues(limit=100)
    measures: ClassVar[tuple[MeasureSpec, ...]] = (
        MeasureSpec(ACCURACY, 100.0, "higher", "% of passages whose last word's tokens are each the greedy argmax given "
                    "the context (lm-evaluation-harness's lambada_openai acc)", "%", headline=True, aggregate="mean",
                    range=(0.0, 100.0), utility=True, damage=5.0),  # -5 points (docs/damage.md)
        MeasureSpec(PERPLEXITY, None, "lower", "exp(- mean over passages of the last word's summed log-probability) "
                    "(lm-evaluation-harness's lambada_openai perplexity)", aggregate="exp-ratio", range=(1.0, math.inf),
                    utility=True, damage=0.2, damage_relative=True),  # +20 %, as WikiText-2 (docs/damage.md)
    )

    def evaluate(self, model: ModelHandle, ctx: EvalContext, options: Any) -> MetricResult:
        dataset = ctx.registry.get("dataset", "lambada")
        passages: list[LambadaPassage] = dataset.load(ctx.data)
        chosen = ctx.subset(np.full(len(passages), OVERALL, dtype=object), [OVERALL], self.name)
        selected = [passages[i] for i in chosen]
        sequences, k = target_tokens(model, selected)
        logprob, greedy = continuation_scores(model, sequences, k, batch_size=options.batch_size, progress=ctx.progress,
                                              description="lambada")
        ids = [p.item for p in selected]
        items = concat_items([
            item_rows(ACCURACY, OVERALL, ids, 100.0 * greedy, decision=greedy),
            item_rows(PERPLEXITY, OVERALL, ids, -logprob, weight=np.ones(len(ids))),  # exp(sum NLL / passages)
        ])
        truncated = int(np.sum(np.array([len(s) for s in sequences]) > model.max_length + 1))
        protocol = {
            "metric": self.name, "split": "context = passage up to its last space, target = ' ' + last word",
            "tokens": "whole passage tokenised, target = tokens after the context's own (lm-eval _encode_pair)",
            "special_tokens": "none", "prefix_token": "none (the context conditions on itself)",
            "accuracy": "every target token the greedy argmax", "perplexity": "exp(-mean over passages of sum target log-prob)",
            "tokenizer": tokenizer_fingerprint(model.tokenizer), "dtype": model.dtype, "passages": len(selected),
            "target_tokens": int(k.sum()), "truncated": truncated, **ctx.subset_protocol(), "seed": ctx.seed,
        }
        notes = [f"{truncated} passages longer than the model's {model.max_length} positions lost their start"] if truncated else []
        examples = None
        if ctx.save_examples:
            examples = table({
                "item": ids, "context": [p.context for p in selected], "target": [p.target for p in selected],
                "target_tokens": k, "logprob": logprob, "greedy": greedy,
            })
        return MetricResult(rows=[], protocol=protocol, data_checksums=data_checksums(dataset, ctx.data), examples=examples,
                            notes=notes, items=items)
