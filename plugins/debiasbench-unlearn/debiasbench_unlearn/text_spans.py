"""Character spans of words and phrases in a text: the lexicon matcher and HateCheck focus words.

Spans are ``(start, end)`` character offsets, end exclusive; span selectors turn them into
token masks through the tokenizer's offsets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

WORD = re.compile(r"\w+")

Span = tuple[int, int]


def words(text: str) -> list[tuple[str, int, int]]:
    """Lower-cased words (runs of letters/digits/underscore) with their character spans.

    Hyphens and apostrophes separate words, so ``women's`` contains ``women`` and the lemma
    ``self-complacency`` matches ``self complacency`` too."""
    return [(m.group().lower(), m.start(), m.end()) for m in WORD.finditer(text)]


def phrase_key(phrase: str) -> tuple[str, ...]:
    """A phrase as the tuple of its lower-cased words (how :class:`PhraseMatcher` compares)."""
    return tuple(w for w, _, _ in words(phrase))


class PhraseMatcher:
    """Finds whole-word, case-insensitive occurrences of single- and multi-word phrases.

    Matching compares word n-grams against a set, so thousands of lexicon entries cost a few
    set look-ups per word instead of a regex alternation tried at every character."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self.keys: dict[tuple[str, ...], str] = {}
        for phrase in phrases:
            key = phrase_key(phrase)
            if key:
                self.keys.setdefault(key, phrase)
        self.max_words = max((len(k) for k in self.keys), default=0)

    def __len__(self) -> int:
        return len(self.keys)

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """``(start, end, phrase)`` of every match; overlapping matches are all kept."""
        found = words(text)
        tokens = [w for w, _, _ in found]
        out = []
        for n in range(1, min(self.max_words, len(tokens)) + 1):
            for i in range(len(tokens) - n + 1):
                phrase = self.keys.get(tuple(tokens[i:i + n]))
                if phrase is not None:
                    out.append((found[i][1], found[i + n - 1][2], phrase))
        return sorted(out)

    def spans(self, text: str) -> list[Span]:
        return [(s, e) for s, e, _ in self.find(text)]


# --------------------------------------------------------------------------- HateCheck focus words

_LEET = {"a": "[a4@]", "e": "[e3]", "i": "[i1!]", "o": "[o0]", "s": "[s5$]", "t": "[t7]", "l": "[l1]"}
_PLACEHOLDER = re.compile(r"\[[A-Za-z_]+\]")


def _loose(word: str) -> str:
    """A regex for ``word`` that also accepts leetspeak (``st4b`` for ``stab``) and a suffix
    (focus words are lemmas: ``kill`` must find ``killed``)."""
    return "".join(_LEET.get(c, re.escape(c)) for c in word.lower()) + r"\w*"


def _phrase_spans(text: str, phrase: str) -> list[Span]:
    parts = phrase.split()
    if not parts:
        return []
    joined = re.compile(r"(?<!\w)" + r"\W+".join(_loose(p) for p in parts), re.IGNORECASE)
    spans = [m.span() for m in joined.finditer(text)]
    if spans:
        return spans
    for part in parts:  # words of the phrase apart ("worth nothing" in "worth absolutely nothing")
        bounded = [m.span() for m in re.finditer(r"(?<!\w)" + _loose(part), text, re.IGNORECASE)]
        spans += bounded or [m.span() for m in re.finditer(_loose(part), text, re.IGNORECASE)]
    return spans


def _placeholder_span(text: str, template: str | None, placeholder: str) -> list[Span]:
    """Where ``[SLUR_S]`` etc. was filled in: align the case template with the case text."""
    if not template or placeholder not in template:
        return []
    names = _PLACEHOLDER.findall(template)
    literals = _PLACEHOLDER.split(template)
    pattern = "".join(re.escape(lit) + ("(.+?)" if i < len(names) else "") for i, lit in enumerate(literals))
    match = re.fullmatch(pattern, text.strip(), re.IGNORECASE | re.DOTALL)
    if match is None:
        return []
    offset = len(text) - len(text.lstrip())
    return [(match.start(i + 1) + offset, match.end(i + 1) + offset) for i, name in enumerate(names) if name == placeholder]


def focus_spans(text: str, focus_words: str | None, template: str | None = None) -> tuple[Span, ...] | None:
    """Character spans of HateCheck ``focus_words`` in ``text``; None when the case has none.

    ``focus_words`` is a lemma list: ``hate``; ``violent, cruel``; ``end ... life``
    (discontinuous); ``[SLUR_P]`` (the slur the template placeholder was filled with);
    ``-`` (implicit hate: no focus word). Each part is matched case-insensitively at a word
    start, allowing inflection suffixes and leetspeak."""
    if focus_words is None or focus_words.strip() in ("", "-", "nan"):
        return None
    focus = focus_words.strip()
    if _PLACEHOLDER.fullmatch(focus):
        spans = _placeholder_span(text, template, focus)
    else:
        spans = []
        for part in re.split(r",|\.\.\.|…", focus):
            spans += _phrase_spans(text, part.strip())
    return tuple(sorted(set(spans))) or None
