"""Lexicons for the ``lexicon`` selector: HurtLex (from the data folder) or any word-list file."""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

from debiasbench.api import DataError, DataFile
from debiasbench_unlearn.identity_terms import domain_terms
from debiasbench_unlearn.text_spans import PhraseMatcher

HURTLEX = DataFile(
    "hurtlex/hurtlex_EN.tsv",
    sha256="a734820a63c87994781d182692e6dc7ec262c402016971a7fa31946ced0d470c",
    url="https://raw.githubusercontent.com/valeriobasile/hurtlex/10ae72a48a4d9266d0d0d72ed2f90d63ae6fdcae/lexica/EN/1.2/hurtlex_EN.tsv",
)
"""HurtLex 1.2 English (Bassignana et al. 2018), CC BY-NC-SA 4.0: read, never redistributed."""


COMMON_WORDS = frozenset("""
a about after all also an and any are as at be because been but by can could day did do does don even
first for from get give go good have he her here him his how i if in into is it its just know like look
make me more most my new no not now of on one only or other our out over people say see she so some take
than that the their them then there these they think this time to two up us use very want way we well
what when which who will with would year you your
""".split())
"""Frequent English words HurtLex lists for a rare offensive sense (``do``, ``know``, ``people``):
in running text they are almost always innocent, so single-word lexicon entries among them are
dropped unless ``keep_common`` is set. Identity terms are never dropped."""


def read_terms(path: Path, level: str = "conservative", categories: tuple[str, ...] = ()) -> list[str]:
    """Terms of a lexicon file.

    A tab-separated file with a ``lemma`` column is read as HurtLex: ``level`` conservative
    keeps the conservative entries only, inclusive keeps all; ``categories`` (e.g. ``ps``,
    ``cds``) restricts the category column. Any other file is one term per line (``#``
    starts a comment)."""
    if not path.is_file():
        raise DataError(f"lexicon file {path} does not exist")
    with open(path, encoding="utf-8", newline="") as handle:
        header = handle.readline()
        handle.seek(0)
        if "\t" in header and "lemma" in header.strip().split("\t"):
            rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
            return [r["lemma"] for r in rows
                    if (level == "inclusive" or r.get("level", "conservative") == "conservative")
                    and (not categories or r.get("category") in categories)]
        return [line.split("#", 1)[0].strip() for line in handle if line.split("#", 1)[0].strip()]


@lru_cache(maxsize=16)
def _matcher(path: str, mtime: float, level: str, categories: tuple[str, ...], domain: str, identity: bool,
             keep_common: bool) -> PhraseMatcher:
    terms = read_terms(Path(path), level, categories)
    if not keep_common:
        terms = [t for t in terms if t.strip().lower() not in COMMON_WORDS]
    if identity:
        terms += list(domain_terms(domain))
    return PhraseMatcher(terms)


def lexicon_matcher(path: Path, level: str, categories: tuple[str, ...], domain: str, identity: bool,
                    keep_common: bool = False) -> PhraseMatcher:
    """A cached matcher for the lexicon file plus (``identity``) the domain's identity terms."""
    return _matcher(str(path), path.stat().st_mtime if path.exists() else 0.0, level, categories, domain, identity, keep_common)
