"""What every debiasing method shares: where its data comes from, its domain, the corpus sentences
that name the domain's groups, and the note that the forget texts are not used.

These methods learn from a corpus and the domain's attribute words, not from forget texts: each
declares ``needs_forget = False``, so a run loads no forget set, and every run's ``method_info``
says so.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from debiasbench.api import DataLocatorProto, DebiasbenchError, RunFacts, UnlearnContext, option
from debiasbench.api.data import DataLocator
from debiasbench_debias.attributes import ATTRIBUTE_WORDS, attribute_words
from debiasbench_debias.corpus import WIKITEXT_VALID, check_corpus_option, corpus_path, read_sentences, seeded_sample
from debiasbench_debias.counterfactual_swaps import AttributeMatcher

CORPUS_HELP = (f"text file the method learns from (one paragraph per line); empty: the data folder's "
               f"{WIKITEXT_VALID.relpath} (WikiText-2 validation, never the test text perplexity uses)")


@dataclass
class CorpusOptions:
    """The corpus options of the methods that read no training loop options."""

    corpus: str = option("", CORPUS_HELP)
    batch_size: int = option(32, "sentences per forward pass when reading representations")
    max_length: int = option(128, "tokens per sentence, prefix token included; longer sentences are cut")

    def __post_init__(self) -> None:
        check_corpus_option(self.corpus)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be 1 or more, got {self.batch_size}")
        if self.max_length < 2:
            raise ValueError(f"max_length must be 2 or more, got {self.max_length}")


def check_count(name: str, value: int | None, minimum: int = 1) -> None:
    """ValueError (one line in planning) unless ``value`` is None or at least ``minimum``."""
    if value is not None and value < minimum:
        raise ValueError(f"{name} must be {minimum} or more, got {value}")


@dataclass
class RunInputs:
    """The data locator, the domain and its compiled attribute words."""

    data: DataLocatorProto
    domain: str
    matcher: AttributeMatcher | None  # None for a method that needs no attribute words (dropout)

    @property
    def words(self) -> AttributeMatcher:
        assert self.matcher is not None, "this method was given no attribute words"
        return self.matcher


def run_inputs(method: str, ctx: UnlearnContext, words: bool = True) -> RunInputs:
    """Where data comes from (the run's locator), which domain is debiased (``--domain``) and,
    with ``words``, the domain's attribute words (one line when it has none)."""
    selector_ctx = ctx.selector_ctx
    data = selector_ctx.data if selector_ctx is not None else DataLocator()
    domain = (selector_ctx.domain if selector_ctx is not None else "") or (ctx.forget[0].domain if ctx.forget else "")
    if not domain:
        raise DebiasbenchError(f"method {method!r} needs the bias domain (--domain gender, race or religion)")
    matcher = AttributeMatcher(attribute_words(data, domain)) if words else None
    return RunInputs(data=data, domain=domain, matcher=matcher)


def planned_inputs(run: RunFacts, words: bool = True) -> RunInputs:
    """The same inputs at plan time, from the run's facts: so a domain without attribute words or a
    corpus that never names the groups is one line before the model loads, not after."""
    data = run.data if run.data is not None else DataLocator()
    return RunInputs(data=data, domain=run.domain, matcher=AttributeMatcher(attribute_words(data, run.domain)) if words else None)


def check_corpus_run(run: RunFacts, corpus: str, words: bool = True) -> None:
    """Plan-time check of a corpus method: the domain's attribute words exist and (``words``) the corpus
    has sentences naming the groups; else that the corpus can be read at all."""
    inputs = planned_inputs(run, words)
    if words:
        attribute_sentences(inputs, corpus)
    else:
        corpus_path(inputs.data, corpus)


def attribute_sentences(inputs: RunInputs, corpus: str) -> list[str]:
    """The corpus sentences that contain one of the domain's attribute words (one line when none does)."""
    path = corpus_path(inputs.data, corpus)
    sentences = [s for s in read_corpus(path) if inputs.words.pattern.search(s)]
    if not sentences:
        raise DebiasbenchError(f"corpus {path} has no sentence with a {inputs.domain} attribute word "
                               f"(from {ATTRIBUTE_WORDS.relpath}); choose a corpus that names the groups")
    return sentences


@functools.lru_cache(maxsize=4)
def _cached_sentences(path: str, mtime: float) -> tuple[str, ...]:
    return tuple(read_sentences(Path(path)))


def read_corpus(path: Path) -> list[str]:
    """The corpus's sentences, read once per process for plan-time and run-time use alike."""
    return list(_cached_sentences(str(path), path.stat().st_mtime))


def corpus_sentences(inputs: RunInputs, corpus: str, limit: int | None, seed: int) -> list[str]:
    """A seeded sample of all the corpus's sentences."""
    return seeded_sample(read_corpus(corpus_path(inputs.data, corpus)), limit, seed)


def unused_forget(ctx: UnlearnContext) -> dict[str, Any]:
    """The run record's note that this method does not unlearn forget texts (``needs_forget = False``)."""
    return {"forget_texts_used": 0,
            "forget_texts_note": "none: a debiasing baseline learns from a corpus and the domain's attribute words"}


def data_checksums(inputs: RunInputs, corpus: str) -> dict[str, str]:
    """sha256 of the attribute words and, for the default corpus, of the WikiText-2 file (the run record)."""
    sums = {ATTRIBUTE_WORDS.relpath: inputs.data.checksum(ATTRIBUTE_WORDS)} if inputs.matcher is not None else {}
    if not corpus:
        sums[WIKITEXT_VALID.relpath] = inputs.data.checksum(WIKITEXT_VALID)
    return sums
