"""No leakage: a pair-trained method never trains on an item, or a StereoSet target term, that the
run evaluates in its test split.

The run's dev/test split is the core's ``split_of(metric, unit, --heldout-seed, --dev-fraction)``,
the same call that tags the per-item rows (``run/records.py``): per item, and for StereoSet
per target term (``split_units``: ``group\\x00<domain>/<term>``), so no term is on both sides. With
StereoSet evaluated the ``stereoset`` source is still refused (at plan time, reading no data:
StereoSet's loader writes a cache), since its dev terms are where the run's choices are made;
without it, only dev target terms are trained on.
CrowS-Pairs has no target terms: its dev pairs are used. ``pair_split=all`` takes every pair and is
refused whenever the source's metric is evaluated. Imports no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from debiasbench.api.data import split_of
from debiasbench.api import DebiasbenchError, RunFacts
from debiasbench_unlearn.pairs.sources import EVALUATED_BY, SentencePair

PAIR_SPLITS = ("dev", "all")


@dataclass(frozen=True)
class EvaluatedTest:
    """What the run evaluates in its test split for one benchmark: item ids and StereoSet target keys."""

    metric: str
    items: frozenset[str]
    targets: frozenset[str]


def evaluated_test(source: str, every_pair: Sequence[SentencePair], run: RunFacts) -> EvaluatedTest | None:
    """The test items (and their target terms) of ``source``'s metric, when the run evaluates it.
    ``every_pair`` must be all the benchmark's pairs of the domain, not a subset."""
    metric = EVALUATED_BY.get(source)
    if metric is None or metric not in run.metrics:
        return None
    items = [p.item for p in every_pair]
    test = [p for p, s in zip(every_pair, split_of(metric, items, run.heldout_seed, run.dev_fraction)) if s == "test"]
    return EvaluatedTest(metric, frozenset(p.item for p in test), frozenset(p.target for p in test if p.target))


def refuse_leaking_choice(source: str, pair_split: str, run: RunFacts) -> None:
    """Plan time, without reading data: one line when the choice of source and split must leak.
    ``pair_split=all`` of an evaluated benchmark does; StereoSet while it is evaluated is refused too:
    its dev target terms are where the run's choices (a trajectory's best step) are made."""
    if pair_split not in PAIR_SPLITS:
        raise DebiasbenchError(f"pair_split must be one of {', '.join(PAIR_SPLITS)}, got {pair_split!r}")
    metric = EVALUATED_BY.get(source)
    if metric is None or metric not in run.metrics:
        return
    if pair_split == "all":
        raise DebiasbenchError(f"pairs={source} with pair_split=all would train on the {metric!r} items this run evaluates "
                               f"in its test split; use pair_split=dev, or leave {metric} out of --metrics")
    if source == "stereoset":
        raise DebiasbenchError(f"pairs=stereoset would leak: this run evaluates stereoset, and its dev target terms "
                               f"(--heldout-seed {run.heldout_seed}) are where the run's choices are made; "
                               "use -o pairs=redditbias (or attribute-swap, crows-pairs), or leave stereoset out of --metrics")


def trainable_pairs(source: str, every_pair: Sequence[SentencePair], run: RunFacts, pair_split: str) -> list[SentencePair]:
    """The pairs of a benchmark source that may be trained on in this run; one line when none may."""
    refuse_leaking_choice(source, pair_split, run)
    test = evaluated_test(source, every_pair, run)
    if pair_split == "all":
        return list(every_pair)
    if source == "stereoset":  # not evaluated (else refused above): split by target term
        terms = sorted({p.target for p in every_pair})
        splits = split_of("stereoset", [f"group\x00{run.domain}/{t}" for t in terms], run.heldout_seed, run.dev_fraction)
        dev = {t for t, s in zip(terms, splits) if s == "dev"}
        kept = [p for p in every_pair if p.target in dev]
    else:
        splits = split_of(EVALUATED_BY[source], [p.item for p in every_pair], run.heldout_seed, run.dev_fraction)
        kept = [p for p, s in zip(every_pair, splits) if s == "dev"]
    if not kept:
        raise DebiasbenchError(f"pairs={source}: no {source} pair of domain {run.domain!r} is in the dev split; "
                               "choose another -o pairs=...")
    check_no_leak(kept, test)
    return kept


def check_no_leak(pairs: Sequence[SentencePair], test: EvaluatedTest | None) -> None:
    """Refuse ``pairs`` if any is an evaluated test item or names an evaluated test target term."""
    if test is None:
        return
    items = sorted({p.item for p in pairs} & test.items)
    targets = sorted({p.target for p in pairs if p.target} & test.targets)
    if items or targets:
        what = f"{len(items)} test items" + (f" and {len(targets)} test target terms" if targets else "")
        raise DebiasbenchError(f"the training pairs include {what} of {test.metric!r}, which this run evaluates; "
                               "use pair_split=dev or another pair source")
