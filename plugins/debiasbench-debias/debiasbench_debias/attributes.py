"""The attribute words of a bias domain: bias-bench's ``bias_attribute_words.json``.

Gender has 57 pairs ``(male, female)``; race and religion 6 triples each (``(black, caucasian,
asian)``, ``(jewish, christian, muslim)``). Column ``c`` of every tuple names the same group, so a
column is a class (INLP) or a counterfactual target (CDA, SentenceDebias).
"""

from __future__ import annotations

import json

from debiasbench.api import DataFile, DataLocatorProto, DebiasbenchError

ATTRIBUTE_WORDS = DataFile(
    relpath="bias_bench/bias_attribute_words.json",
    sha256="221f9f997b6eee90c4b5791c6f60771fb91bbbe3631ac07a010bd8b026e50dbc",
    url="https://raw.githubusercontent.com/McGill-NLP/bias-bench/291426aab926f78ecfc7bd040b531429ee8123e0/data/bias_attribute_words.json",
)

GROUP_NAMES: dict[str, tuple[str, ...]] = {
    "gender": ("male", "female"),
    "race": ("black", "white", "asian"),
    "religion": ("jewish", "christian", "muslim"),
}
"""What each column of a domain's tuples stands for (for the run record)."""

Groups = list[tuple[str, ...]]


def attribute_words(data: DataLocatorProto, domain: str) -> Groups:
    """The domain's word tuples, in file order; one line when the domain has none."""
    path = data.path(ATTRIBUTE_WORDS)
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DebiasbenchError(f"{path} is not valid JSON ({exc}); restore bias-bench's bias_attribute_words.json") from None
    if domain not in table:
        raise DebiasbenchError(f"domain {domain!r} has no attribute words in {ATTRIBUTE_WORDS.relpath} "
                               f"(it has {', '.join(sorted(table))}); the debiasing methods need them")
    groups = [tuple(str(w) for w in words) for words in table[domain]]
    widths = {len(g) for g in groups}
    if not groups or len(widths) != 1 or widths == {1}:
        raise DebiasbenchError(f"{ATTRIBUTE_WORDS.relpath}: domain {domain!r} must list word tuples of one width (2 or more)")
    return groups


def group_names(domain: str, width: int) -> tuple[str, ...]:
    """Names of the columns (``male``, ``female``), or ``group0``... for a domain not named here."""
    names = GROUP_NAMES.get(domain, ())
    return names if len(names) == width else tuple(f"group{i}" for i in range(width))
