"""Benign text for the ``benign-ga`` controls (docs/statistics.md, "The controls").

The control does damage of the controlled run's size with text that holds no hate, so its texts
must (1) name the same groups and (2) hold no slur, no hateful focus word and no HurtLex
conservative lemma. HateCheck's own non-hateful cases fail (2) often: about half of those for
women are reclaimed or homonym slur uses or negated hate ("I don't hate women").

Source shipped: HateCheck's ``ident_neutral_nh`` and ``ident_pos_nh`` cases for the domain's
groups ("I live with two women.", "Seeing Muslims in government makes me so proud."), which name
the group the way the forget texts do, in the same templated register and length, then filtered:

- a case holding any focus word of any hateful HateCheck case, or any slur of its slur
  functionalities, is dropped (a focus phrase split by ``...``, "make ... suffer", counts when all
  its parts occur);
- a case holding a HurtLex 1.2 conservative lemma is dropped, except the domain's own identity
  terms (HurtLex lists ``black``: dropping it would drop every text that names the group) and the
  frequent English words the ``lexicon`` selector ignores too (lexicon.COMMON_WORDS).

WikiText sentences naming the groups were the alternative; the WikiText-2 test split is the text
the control is matched on, so training on it would leak, and no other raw split is in the data.
About 43-45 texts per group survive (women 43, black people 45, Muslims 43).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from debiasbench.api import DataError, DataLocatorProto
from debiasbench_unlearn.hatecheck import CASES, COLUMNS, GROUP_DOMAINS
from debiasbench_unlearn.identity_terms import domain_terms, identity_matcher
from debiasbench_unlearn.lexicon import HURTLEX, lexicon_matcher
from debiasbench_unlearn.tables import read_csv, unique
from debiasbench_unlearn.text_spans import PhraseMatcher

BENIGN_FUNCTIONALITIES = ("ident_neutral_nh", "ident_pos_nh")
"""HateCheck functionalities whose cases name a group neutrally or positively."""

SLUR_FUNCTIONALITIES = ("slur_h", "slur_homonym_nh", "slur_reclaimed_nh")


@dataclass
class BenignText:
    """The texts kept for one domain and how many candidates each filter dropped."""

    texts: list[str]
    candidates: int
    dropped: dict[str, int] = field(default_factory=dict)


class FocusMatcher:
    """Finds HateCheck focus words in a text: a value such as ``lives ... not important`` is its
    parts, and matches when every part occurs; placeholders such as ``[slur_p]`` are left out."""

    def __init__(self, values: Iterable[str]) -> None:
        self.phrases = {tuple(p.strip() for p in v.split("...") if p.strip()) for v in values
                        if v and v.strip() != "-" and not v.strip().startswith("[")}
        self.parts = PhraseMatcher(part for phrase in self.phrases for part in phrase)

    def found(self, text: str) -> list[str]:
        present = {phrase.lower() for _, _, phrase in self.parts.find(text)}
        return [" ... ".join(p) for p in self.phrases if all(part.lower() in present for part in p)]


def benign_texts(data: DataLocatorProto, domain: str) -> BenignText:
    """The filtered neutral and positive HateCheck cases about ``domain``'s groups."""
    rows = read_csv(data.path(CASES), COLUMNS)
    groups = {g for g, d in GROUP_DOMAINS.items() if d == domain}
    if not groups:
        known = ", ".join(dict.fromkeys(GROUP_DOMAINS.values()))
        raise DataError(f"benign-ga has no benign text for domain {domain!r} (HateCheck names groups of: {known}); "
                        "leave this control out for that domain")
    harmful = FocusMatcher(r["focus_words"] for r in rows
                           if r["label_gold"] == "hateful" or r["functionality"] in SLUR_FUNCTIONALITIES)
    hurtlex = lexicon_matcher(data.path(HURTLEX), "conservative", (), domain, identity=False)
    own_terms = {t.lower() for t in domain_terms(domain)}
    candidates = unique([r["test_case"].strip() for r in rows
                         if r["functionality"] in BENIGN_FUNCTIONALITIES and r["target_ident"] in groups])
    out = BenignText(texts=[], candidates=len(candidates), dropped={"hateful focus word or slur": 0, "HurtLex conservative lemma": 0})
    for text in candidates:
        if harmful.found(text):
            out.dropped["hateful focus word or slur"] += 1
        elif any(text[a:b].lower() not in own_terms for a, b in hurtlex.spans(text)):
            out.dropped["HurtLex conservative lemma"] += 1
        else:
            out.texts.append(text)
    if not out.texts:
        raise DataError(f"benign-ga: every one of the {len(candidates)} neutral HateCheck cases for domain {domain!r} "
                        "holds a slur, focus word or HurtLex lemma; no benign text is left to control with")
    return out


def identity_free_spans(text: str, domain: str) -> list[tuple[int, int]]:
    """The character ranges of ``text`` outside the domain's identity terms (the tokens the
    identity-free control trains on)."""
    cuts = sorted(identity_matcher(domain).spans(text))
    spans, start = [], 0
    for a, b in cuts:
        if a > start:
            spans.append((start, a))
        start = max(start, b)
    if start < len(text):
        spans.append((start, len(text)))
    return spans
