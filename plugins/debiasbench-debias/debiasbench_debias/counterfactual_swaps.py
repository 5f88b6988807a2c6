"""Finding attribute words in a sentence and swapping them (CDA, SentenceDebias, INLP classes).

Words match whole (not inside another word), case-insensitively, and a replacement keeps the
case of the word it replaces (``He`` -> ``She``, ``MEN`` -> ``WOMEN``). bias-bench matched exact
lower-case, whitespace-split words plus six trailing punctuation marks; matching on word
boundaries finds the same words and also capitalised ones at the start of a sentence.

Where a word belongs to several tuples (``her``: ``him/her`` and ``his/her``), the last tuple
wins, as in bias-bench's loop over the list.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping

from debiasbench_debias.attributes import Groups


def _pattern(words: set[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w)))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def _with_case(replacement: str, original: str) -> str:
    if len(original) > 1 and original.isupper():
        return replacement.upper()
    if original[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def column_of(groups: Groups) -> dict[str, int]:
    """Lower-cased word -> its column (the last tuple that lists it decides)."""
    return {w.lower(): c for g in groups for c, w in enumerate(g)}


class AttributeMatcher:
    """The attribute words of one domain, compiled once."""

    def __init__(self, groups: Groups) -> None:
        self.groups = groups
        self.width = len(groups[0])
        self.columns = column_of(groups)
        self.pattern = _pattern(set(self.columns))

    def found(self, sentence: str) -> list[str]:
        """The attribute words in ``sentence``, lower-cased, in order."""
        return [m.group(0).lower() for m in self.pattern.finditer(sentence)]

    def columns_in(self, sentence: str) -> set[int]:
        """Which groups (columns) the sentence's attribute words name."""
        return {self.columns[w] for w in self.found(sentence)}

    def swap(self, sentence: str, mapping: Mapping[str, str]) -> str:
        """``sentence`` with every attribute word in ``mapping`` replaced, keeping its case."""
        def replace(match: re.Match[str]) -> str:
            word = match.group(0)
            target = mapping.get(word.lower())
            return word if target is None else _with_case(target, word)

        return self.pattern.sub(replace, sentence)

    def two_sided(self) -> dict[str, str]:
        """Pairs: each word to its partner, both directions (bias-bench's gender CDA)."""
        mapping: dict[str, str] = {}
        for male, female in self.groups:
            mapping[male.lower()], mapping[female.lower()] = female, male
        return mapping

    def sampled(self, rng: random.Random) -> dict[str, str]:
        """Triples: bias-bench's ternary CDA. Per sentence, column c is sent to one other column
        drawn at random (r1 -> r2 or r3, r2 -> r1 or r3, r3 -> r1 or r2), the same draw for every
        tuple; a pair has one other column, so this is :meth:`two_sided` for pairs."""
        others = [[c for c in range(self.width) if c != col] for col in range(self.width)]
        target = [rng.choice(options) for options in others]
        return {w.lower(): g[target[c]] for g in self.groups for c, w in enumerate(g)}

    def counterfactual(self, sentence: str, rng: random.Random) -> str:
        """The sentence's counterfactual: pairs swapped both ways, triples by a seeded draw."""
        mapping = self.two_sided() if self.width == 2 else self.sampled(rng)
        return self.swap(sentence, mapping)

    def counterfactual_sets(self, sentence: str) -> list[tuple[str, ...]]:
        """SentenceDebias' sets: for each tuple and each of its words in the sentence, the sentence
        with that word put into every column (bias-bench's ``*_augment_func``); the set's
        member ``c`` names group ``c``."""
        present = set(self.found(sentence))
        sets = []
        for group in self.groups:
            for word in group:
                if word.lower() in present:
                    sets.append(tuple(self.swap(sentence, {word.lower(): other}) for other in group))
        return sets
