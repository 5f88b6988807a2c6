"""Sentence pairs for ``biasunlearn`` and ``pcgu``: where they come from (``sources``), which of
them a run may train on without leaking into its evaluated test split (``leakage``), and the
options and plan-time check the two methods share (here). Imports no torch."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from debiasbench.api import DebiasbenchError, ForgetText, RunFacts, option
from debiasbench_unlearn.pairs.leakage import refuse_leaking_choice, trainable_pairs
from debiasbench_unlearn.pairs.sources import (
    PAIR_SOURCES,
    SentencePair,
    attribute_swap_pairs,
    benchmark_examples,
    check_domain_supported,
    crows_pairs,
    redditbias_pairs,
    stereoset_pairs,
)

__all__ = ["PAIR_SOURCES", "PairOptions", "SentencePair", "check_pairs", "run_pairs"]


@dataclass
class PairOptions:
    """Where a pair-trained method's pairs come from (a mixin of its options)."""

    pairs: Literal["redditbias", "attribute-swap", "crows-pairs", "stereoset"] = option(
        "redditbias", "pair source: redditbias (biased comments and their group swap; not evaluated), attribute-swap "
                      "(the forget set swapped with bias-bench's attribute words), crows-pairs or stereoset (dev split only)")
    pair_split: Literal["dev", "all"] = option(
        "dev", "crows-pairs / stereoset: dev (only items, and StereoSet target terms, outside the evaluated test split) or "
               "all (refused when the benchmark is evaluated)")
    max_pairs: int | None = option(None, "train on at most this many pairs (a seeded sample); none: all")

    def check_pairs_options(self) -> None:
        if self.max_pairs is not None and self.max_pairs < 1:
            raise ValueError(f"max_pairs must be 1 or more, got {self.max_pairs}")


def check_pairs(options: PairOptions, run: RunFacts, forget_set: str) -> None:
    """Plan time: the source has pairs for the domain, the source and split cannot leak, and with
    CrowS-Pairs evaluated some dev pair is left (reads its CSV; loads no model, writes nothing)."""
    check_domain_supported(options.pairs, run.domain)
    refuse_leaking_choice(options.pairs, options.pair_split, run)
    if options.pairs == "crows-pairs" and "crows-pairs" in run.metrics:  # a CSV: reading it writes nothing
        if run.data is None:
            raise DebiasbenchError(f"pairs={options.pairs} needs the data folder to check for leakage")
        run_pairs(options, run, [], 0)


def run_pairs(options: PairOptions, run: RunFacts | None, forget: Sequence[ForgetText], seed: int) -> list[SentencePair]:
    """The run's training pairs (checked for leakage), a seeded sample of ``max_pairs`` of them."""
    if run is None or run.data is None:
        raise DebiasbenchError("pair-trained methods need the run's facts (UnlearnContext.run); run them through `debiasbench run`")
    data = run.data
    source, domain = options.pairs, run.domain
    check_domain_supported(source, domain)
    if source == "redditbias":
        pairs = redditbias_pairs(data, domain, seed)
    elif source == "attribute-swap":
        pairs = attribute_swap_pairs(data, forget, domain, seed)
    else:
        examples = benchmark_examples(source, data)
        every = crows_pairs(examples, domain) if source == "crows-pairs" else stereoset_pairs(examples, domain)
        pairs = trainable_pairs(source, every, run, options.pair_split)
    if not pairs:
        raise DebiasbenchError(f"pairs={source}: no pair for domain {domain!r} (no text has a term to swap)")
    if options.max_pairs is not None and len(pairs) > options.max_pairs:
        pairs = random.Random(seed).sample(pairs, options.max_pairs)
    return pairs
