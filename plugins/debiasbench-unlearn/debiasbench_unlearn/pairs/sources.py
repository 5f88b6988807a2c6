"""Sentence-pair sources for the pair-trained methods (``biasunlearn``, ``pcgu``): a stereotyped
sentence and its counterpart, of the run's domain.

* ``redditbias`` (default): RedditBias's biased comments (docs/concepts.md, "RedditBias as a forget set": the forget set, with every
  RedditBias test sentence removed) paired with the same comment with its group terms swapped for
  another group's (``women`` -> ``men``, the ``counterfactual`` selector's swap). Not evaluated by
  any instrument whose items it contains.
* ``attribute-swap``: the run's forget-set texts with bias-bench's attribute words swapped
  (``bias_bench/bias_attribute_words.json``, the word lists of bias-bench's CDA; gender, race, religion).
* ``crows-pairs``: CrowS-Pairs pairs (``sent_more`` / ``sent_less``) of the dev split only.
* ``stereoset``: StereoSet stereotype / anti-stereotype options of dev target terms only.

The last two are evaluated instruments: :mod:`debiasbench_unlearn.pairs.leakage` decides which of
their items may be trained on. Imports no torch.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from debiasbench.api import DataFile, DataLocatorProto, DebiasbenchError, ForgetText
from debiasbench_unlearn.counterfactual_selector import apply_edits, counterfactual_edits

PAIR_SOURCES = ("redditbias", "attribute-swap", "crows-pairs", "stereoset")
"""Every pair source; the first is the default."""

EVALUATED_BY = {"crows-pairs": "crows-pairs", "stereoset": "stereoset"}
"""Pair source -> the metric that evaluates the same items (their dev/test split is that metric's)."""

ATTRIBUTE_WORDS = DataFile(relpath="bias_bench/bias_attribute_words.json",
                           sha256="221f9f997b6eee90c4b5791c6f60771fb91bbbe3631ac07a010bd8b026e50dbc")
SWAP_DOMAINS = {"attribute-swap": ("gender", "race", "religion"),
                "redditbias": ("gender", "race", "religion", "sexual-orientation")}


@dataclass(frozen=True)
class SentencePair:
    """A stereotyped sentence (``stereo``, what the model is biased towards) and its counterpart.
    ``item`` is the id its instrument gives it (CrowS-Pairs ``pair_id``, StereoSet ``task:example_id``),
    ``target`` the StereoSet target-term key ``domain\\x00term``; both empty for other sources."""

    stereo: str
    anti: str
    domain: str
    source: str
    item: str = ""
    target: str = ""


def check_domain_supported(source: str, domain: str) -> None:
    """One line when ``source`` has no pairs for ``domain`` (plan time; reads no data)."""
    if source not in PAIR_SOURCES:
        raise DebiasbenchError(f"unknown pair source {source!r}; choose one of {', '.join(PAIR_SOURCES)}")
    domains = SWAP_DOMAINS.get(source)
    if domains is not None and domain not in domains:
        raise DebiasbenchError(f"pair source {source!r} has no pairs for domain {domain!r} (it has {', '.join(domains)}); "
                               "choose another -o pairs=...")


def redditbias_pairs(data: DataLocatorProto, domain: str, seed: int) -> list[SentencePair]:
    """RedditBias forget texts (test sentences removed) with their group terms swapped."""
    from debiasbench_unlearn.redditbias_forget_set import RedditBias

    return swapped_pairs(RedditBias().load_forget(data, domain), "redditbias", seed)


def swapped_pairs(texts: Sequence[ForgetText], source: str, seed: int) -> list[SentencePair]:
    """Each text with its group terms swapped for another group's (one drawn per text, seeded);
    texts with nothing to swap are left out."""
    rng = random.Random(seed)
    out = []
    for text in texts:
        options = counterfactual_edits(text.text, text.domain)
        swapped = apply_edits(text.text, rng.choice(options)) if options else text.text
        if swapped != text.text:
            out.append(SentencePair(text.text, swapped, text.domain, source))
    return out


@lru_cache(maxsize=8)
def _attribute_swaps(path: str, domain: str) -> tuple[re.Pattern[str], dict[str, tuple[str, ...]]]:
    """A whole-word pattern over the domain's attribute words and word -> the other words of its tuple."""
    with open(path, encoding="utf-8") as handle:
        words = json.load(handle)[domain]
    others: dict[str, list[str]] = {}
    for row in words:
        for word in row:
            others.setdefault(word.lower(), []).extend(w.lower() for w in row if w.lower() != word.lower())
    alternatives = sorted(others, key=len, reverse=True)
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in alternatives) + r")\b", re.IGNORECASE)
    return pattern, {k: tuple(dict.fromkeys(v)) for k, v in others.items()}


def attribute_swap(text: str, pattern: re.Pattern[str], others: dict[str, tuple[str, ...]], rng: random.Random) -> str:
    """``text`` with every attribute word replaced by another word of its tuple (case kept)."""
    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        new = rng.choice(others[word.lower()])
        if word.isupper() and len(word) > 1:
            return new.upper()
        return new[:1].upper() + new[1:] if word[:1].isupper() else new

    return pattern.sub(swap, text)


def attribute_swap_pairs(data: DataLocatorProto, texts: Sequence[ForgetText], domain: str, seed: int) -> list[SentencePair]:
    """The run's forget texts swapped with bias-bench's attribute words; texts without one are left out."""
    pattern, others = _attribute_swaps(str(data.path(ATTRIBUTE_WORDS)), domain)
    rng = random.Random(seed)
    out = []
    for text in texts:
        swapped = attribute_swap(text.text, pattern, others, rng)
        if swapped != text.text:
            out.append(SentencePair(text.text, swapped, domain, "attribute-swap"))
    return out


def crows_pairs(examples: Sequence[Any], domain: str) -> list[SentencePair]:
    """Every CrowS-Pairs pair of ``domain`` (``sent_more`` is the stereotyped side in both directions)."""
    return [SentencePair(p.sent_more, p.sent_less, domain, "crows-pairs", item=str(p.pair_id))
            for p in examples if p.domain == domain]


def stereoset_pairs(examples: Sequence[Any], domain: str) -> list[SentencePair]:
    """Every StereoSet triple of ``domain`` as (stereotype, anti-stereotype); intersentence options
    follow their context."""
    out = []
    for e in examples:
        if e.domain != domain:
            continue
        lead = "" if e.task == "intrasentence" else e.context.rstrip() + " "
        out.append(SentencePair(lead + e.stereotype, lead + e.anti_stereotype, domain, "stereoset",
                                item=f"{e.task}:{e.example_id}", target=f"{e.domain}\x00{e.target}"))
    return out


def benchmark_examples(source: str, data: DataLocatorProto) -> list[Any]:
    """The evaluated benchmark's examples, read through its registered data set (debiasbench-metrics)."""
    from debiasbench.api import get_registry

    entry = get_registry().find("dataset", source)
    if entry is None:
        raise DebiasbenchError(f"pair source {source!r} reads the {source!r} data set, which no installed plugin registers; "
                               "install debiasbench-metrics or choose -o pairs=redditbias")
    return list(entry.obj.load(data))
