"""The labelled sentences INLP's classifiers learn from (bias-bench's ``dataset/inlp.py``, on any corpus).

bias-bench labels gender sentences ``male`` / ``female`` / ``neutral`` (a sentence with words of
both groups is skipped) and race and religion sentences ``bias`` / ``neutral`` (any attribute word),
and cuts each sentence at a random word: an attribute sentence somewhere at or after its attribute
word, a neutral one after at least 4 words. It collects 10,000 sentences per class from Wikipedia,
so its classes are balanced; on a smaller corpus the neutral class is cut to the size of the largest
attribute class to keep that balance.
"""

from __future__ import annotations

import random
from typing import Literal

from debiasbench_debias.counterfactual_swaps import AttributeMatcher

Classes = Literal["bias-bench", "groups", "attribute"]
NEUTRAL = "neutral"


def scheme_for(classes: Classes, width: int) -> Literal["groups", "attribute"]:
    """bias-bench: one class per group for pairs (gender), attribute-vs-neutral for triples."""
    if classes == "bias-bench":
        return "groups" if width == 2 else "attribute"
    return classes


def _clip(sentence: str, first_word: int, rng: random.Random) -> str:
    """The sentence cut at a random word at or after ``first_word`` (inclusive)."""
    words = sentence.split()
    return " ".join(words[:rng.randint(min(first_word, len(words) - 1), len(words) - 1) + 1])


def _attribute_word_index(matcher: AttributeMatcher, sentence: str) -> int:
    """Index (whitespace words) of the word holding the sentence's first attribute word."""
    match = matcher.pattern.search(sentence)
    return len(sentence[:match.end()].split()) - 1 if match else 0


def label_sentence(matcher: AttributeMatcher, sentence: str, scheme: str, names: tuple[str, ...]) -> str | None:
    """The sentence's class, or None when it names several groups (``groups`` scheme)."""
    columns = matcher.columns_in(sentence)
    if not columns:
        return NEUTRAL
    if scheme == "attribute":
        return "bias"
    return names[next(iter(columns))] if len(columns) == 1 else None


def labelled_sentences(matcher: AttributeMatcher, sentences: list[str], scheme: str, names: tuple[str, ...],
                       per_class: int, seed: int) -> tuple[list[str], list[str]]:
    """Clipped sentences and their labels: at most ``per_class`` per class, neutral no more than
    the largest attribute class, drawn in a seeded order."""
    rng = random.Random(seed)
    order = list(sentences)
    rng.shuffle(order)
    by_class: dict[str, list[str]] = {}
    for sentence in order:
        label = label_sentence(matcher, sentence, scheme, names)
        if label is None or len(by_class.setdefault(label, [])) >= per_class:
            continue
        first = _attribute_word_index(matcher, sentence) if label != NEUTRAL else 3  # neutral: 4 words or more
        by_class[label].append(_clip(sentence, first, rng))
    largest = max((len(v) for k, v in by_class.items() if k != NEUTRAL), default=0)
    by_class[NEUTRAL] = by_class.get(NEUTRAL, [])[:largest]
    texts = [t for label in sorted(by_class) for t in by_class[label]]
    labels = [label for label in sorted(by_class) for _ in by_class[label]]
    return texts, labels
