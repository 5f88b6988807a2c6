"""The ``blimp`` metric (docs/concepts.md, "BLiMP"): grammatical knowledge, a utility measure scored like CrowS-Pairs.

Each minimal pair's two sentences get their full-sentence log-probability (docs/concepts.md, "Protocols", ``sum``
scoring: every token after the model's prefix token, through the shared prefix-tree scorer, so a pair's
common opening words are computed once). A pair is correct when ``S(sentence_good) >= S(sentence_bad)``:
lm-evaluation-harness's ``blimp_<UID>`` takes the argmax of the two log-likelihoods, and its argmax picks
the first choice (``sentence_good``) on a tie; only the seven published pairs whose two sentences are
identical tie. As in lm-eval, each sentence is scored with one leading space (its ``target_delimiter``
after an empty context); ``leading_space=false`` scores the sentence alone, as CrowS-Pairs' sentences are.

``blimp.accuracy`` = 100 x correct / pairs per paradigm (domain = the UID), per field (domain = ``morphology``,
``syntax``, ``semantics``, ``syntax_semantics``) and overall (``all``); ideal 100. The overall and field
figures are the mean over their pairs, which is the mean over their paradigms (docs/concepts.md, "BLiMP":
the overall figure is the mean over paradigms) because every paradigm contributes the same number of pairs:
1,000 in the published data, and ``limit`` (e.g. the quick preset's 50) per paradigm in a subset; the protocol
records the counts and a note says so when they differ. ``blimp.margin`` is the continuous companion: the mean of
``S(sentence_good) - S(sentence_bad)`` in nats (higher is better). The metric returns per-pair rows only;
the core computes every figure and interval from them.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    UnknownNameError,
    concat_items,
    item_rows,
    option,
)
from debiasbench.api.lm import BatchSize, check_batch_size
from debiasbench_metrics.blimp.dataset import FIELDS, PARADIGMS, BlimpPair, check_paradigms
from debiasbench_metrics.shared.provenance import scoring_setup, table
from debiasbench_metrics.scoring.sentences import score_sentences

ACCURACY, MARGIN = "blimp.accuracy", "blimp.margin"
QUICK_PAIRS = 50
"""Pairs per paradigm of the quick preset: 67 x 50 = 3,350 pairs, a seeded subset (the same in every run)."""


@dataclass
class BlimpOptions:
    """Options of the ``blimp`` metric."""

    paradigms: tuple[str, ...] = option(("all",), "BLiMP paradigms (UIDs) or fields (morphology, syntax, semantics, "
                                                  "syntax_semantics), comma-separated, or all")
    leading_space: bool = option(True, "score ' ' + sentence, as lm-evaluation-harness's blimp tasks (its target "
                                       "delimiter); false: the sentence alone, as CrowS-Pairs")
    batch_size: BatchSize = option(64, "sentences per forward pass, or auto: the largest batch that fits the free memory")

    def __post_init__(self) -> None:
        names = [self.paradigms] if isinstance(self.paradigms, str) else list(self.paradigms)
        try:
            self.paradigms = check_paradigms([part for name in names for part in str(name).split(",")])
        except UnknownNameError as exc:  # the options' one-line error carries its did-you-mean
            raise ValueError(str(exc)) from None
        self.batch_size = check_batch_size(self.batch_size)


class BlimpMetric(Metric):
    """Share of BLiMP minimal pairs where the grammatical sentence scores at least as high as the ungrammatical one."""

    name: ClassVar[str] = "blimp"
    description: ClassVar[str] = ("BLiMP: % of minimal pairs where the grammatical sentence gets the higher log-probability "
                                  "(per paradigm, field, overall; ideal 100; a utility measure)")
    Options: ClassVar[type] = BlimpOptions
    datasets: ClassVar[tuple[str, ...]] = ("blimp",)
    presets: ClassVar[Mapping[str, PresetValues]] = {"quick": PresetValues(limit=QUICK_PAIRS), "full": PresetValues()}
    probe: ClassVar[PresetValues | None] = PresetValues(limit=10)  # 670 pairs per probe step
    measures: ClassVar[tuple[MeasureSpec, ...]] = (
        MeasureSpec(ACCURACY, 100.0, "higher", "% of pairs where S(sentence_good) >= S(sentence_bad), sum of token "
                    "log-probs (lm-evaluation-harness's blimp acc)", "%", headline=True, aggregate="mean",
                    range=(0.0, 100.0), utility=True, damage=2.0),  # -2 points overall (docs/damage.md)
        MeasureSpec(MARGIN, None, "higher", "mean S(sentence_good) - S(sentence_bad) per pair, sum of token log-probs",
                    "nats", aggregate="mean", utility=True),
    )

    def evaluate(self, model: ModelHandle, ctx: EvalContext, options: Any) -> MetricResult:
        dataset = ctx.registry.get("dataset", "blimp")
        uids = list(options.paradigms)
        pairs: list[BlimpPair] = dataset.load_paradigms(ctx.data, uids)
        uid_of = np.array([p.uid for p in pairs])
        chosen = ctx.subset(uid_of, uids, self.name)  # at most ``limit`` pairs per paradigm, seeded, file order
        selected = [pairs[i] for i in chosen]
        space = " " if options.leading_space else ""
        scores, tokens = score_sentences(
            model, [space + p.good for p in selected] + [space + p.bad for p in selected], scoring="sum",
            batch_size=options.batch_size, progress=ctx.progress, description="blimp",
        )
        n = len(selected)
        good, bad = scores[:n], scores[n:]
        correct = good >= bad
        items = blimp_items(selected, correct, good - bad)
        counts = {uid: int(np.sum(uid_of[chosen] == uid)) for uid in uids}
        notes = []
        if len(set(counts.values())) > 1:
            notes.append("paradigms contribute unequal numbers of pairs (" + ", ".join(f"{u} {c}" for u, c in counts.items())
                         + "); the field and overall figures are means over pairs, not over paradigms")
        protocol = {
            "metric": self.name, "scoring": "sum", **scoring_setup(model), "leading_space": options.leading_space,
            "correct": "S(sentence_good) >= S(sentence_bad) (a tie counts as correct: lm-eval's argmax picks the first choice)",
            "ties": int(np.sum(good == bad)), "paradigms": uids, "pairs_per_paradigm": counts, "pairs": n,
            "overall": "mean over pairs = mean over paradigms when each contributes equally many",
            **ctx.subset_protocol(), "seed": ctx.seed,
        }
        examples = None
        if ctx.save_examples:
            examples = table({
                "item": [p.item for p in selected], "uid": [p.uid for p in selected], "field": [p.field for p in selected],
                "linguistics_term": [p.term for p in selected], "sentence_good": [p.good for p in selected],
                "sentence_bad": [p.bad for p in selected], "score_good": good, "score_bad": bad,
                "tokens_good": tokens[:n], "tokens_bad": tokens[n:], "correct": correct,
            })
        checksums = {dataset.file_of(uid).relpath: ctx.data.checksum(dataset.file_of(uid)) for uid in uids}
        return MetricResult(rows=[], protocol=protocol, data_checksums=checksums, examples=examples, notes=notes, items=items)


def blimp_items(pairs: list[BlimpPair], correct: np.ndarray, margin: np.ndarray) -> Any:
    """Per-pair rows of both measures on every paradigm, every field and ``all``: 100 x correct with the
    decision itself (McNemar on paired changes) and the margin ``S(good) - S(bad)``."""
    ids = np.array([p.item for p in pairs], dtype=object)
    uids = np.array([p.uid for p in pairs], dtype=object)
    fields = np.array([p.field for p in pairs], dtype=object)
    subsets = [(uid, uids == uid) for uid in PARADIGMS] + [(f, fields == f) for f in FIELDS] + [(OVERALL, np.ones(len(pairs), bool))]
    tables = []
    for domain, mask in subsets:
        if not mask.any():
            continue
        tables.append(item_rows(ACCURACY, domain, ids[mask], 100.0 * correct[mask], decision=correct[mask]))
        tables.append(item_rows(MARGIN, domain, ids[mask], margin[mask]))
    return concat_items(tables)
