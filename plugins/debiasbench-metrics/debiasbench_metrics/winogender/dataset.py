"""The Winogender schemas (Rudinger et al. 2018): 720 sentences, an occupation, a participant and a pronoun.

``all_sentences.tsv`` gives each sentence and its id ``occupation.participant.N.gender.txt`` (N = 0: the
pronoun refers to the occupation, 1: to the participant; ``participant`` is ``someone`` in half of them).
The pronoun itself is not in that file: it is read from the sentence's template in ``templates.tsv``
(``$NOM_PRONOUN``, ``$POSS_PRONOUN`` or ``$ACC_PRONOUN``, one per template) and the gender, as
lm-evaluation-harness's ``winogender`` data (oskarvanderwal/winogender) has it in a ``pronoun`` column.
``gotcha``, as in that data's ``gotcha`` subset: a male or female pronoun whose gender is not the
occupation's majority gender in ``occupations-stats.tsv`` (``bls_pct_female`` above 50: female), whichever
of the two people it refers to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from debiasbench.api import DataError, DataFile, DataLocatorProto, EvalDataset
from debiasbench.api.data import RowFile, load_rows

SENTENCES_FILE = DataFile("winogender/all_sentences.tsv", sha256="bd69da16bf228cb8df63fd0843aec2d8b5c36a7f21bf8c7b168bcc83932556c8")
TEMPLATES_FILE = DataFile("winogender/templates.tsv", sha256="496f2e2dc77296bcebcdd8865a8dc5715ce22b772de9abb5f531d5b3114c48a0")
STATS_FILE = DataFile("winogender/occupations-stats.tsv", sha256="3f7f37c16381a70571356982ea7fe613ac700ad04a6d3b19b9f2be18248df567")

GENDERS: tuple[str, ...] = ("male", "female", "neutral")
PRONOUNS: dict[str, dict[str, str]] = {
    "NOM": {"male": "he", "female": "she", "neutral": "they"},
    "POSS": {"male": "his", "female": "her", "neutral": "their"},
    "ACC": {"male": "him", "female": "her", "neutral": "them"},
}
"""The pronoun each template slot takes per gender (the schemas' own substitution)."""
_SLOT = re.compile(r"\$(NOM|POSS|ACC)_PRONOUN")


@dataclass(frozen=True)
class WinogenderSentence:
    """One sentence; ``label`` 0 when the pronoun refers to the occupation, 1 to the participant."""

    item: str  # the sentid, without ".txt"
    sentence: str
    pronoun: str  # as written in the sentence, lower case (he, her, their ...)
    occupation: str
    participant: str  # the other participant, or "someone"
    gender: str  # male | female | neutral
    label: int
    gotcha: bool
    bls_pct_female: float


def _read(path: Path, columns: tuple[str, ...], what: str) -> RowFile:
    expected = f"a Winogender {what} TSV with columns {', '.join(columns)}"
    table = load_rows(path, "csv", expected=expected, delimiter="\t", keep_default_na=False, na_filter=False)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(f"{path}: line 1: missing column(s) {', '.join(missing)}; expected {expected}")
    return table


def _stats(table: RowFile) -> dict[str, float]:
    out = {}
    for i, row in enumerate(table.rows):
        try:
            out[str(row["occupation"]).strip()] = float(row["bls_pct_female"])
        except (TypeError, ValueError):
            raise DataError(f"{table.where(i)}: bls_pct_female is {row['bls_pct_female']!r}; expected a number") from None
    return out


def _slots(table: RowFile) -> dict[tuple[str, int], str]:
    """(occupation, answer) -> the template's pronoun slot (NOM, POSS or ACC)."""
    out = {}
    for i, row in enumerate(table.rows):
        slots = _SLOT.findall(str(row["sentence"]))
        if len(slots) != 1 or str(row["answer"]).strip() not in ("0", "1"):
            raise DataError(f"{table.where(i)}: expected one $..._PRONOUN slot and answer 0 or 1")
        out[(str(row["occupation(0)"]).strip(), int(str(row["answer"]).strip()))] = slots[0]
    return out


def parse_winogender(sentences_path: Path, templates_path: Path, stats_path: Path) -> list[WinogenderSentence]:
    """The sentences with pronoun, label and gotcha; DataError names the file and line of a bad row."""
    sentences = _read(sentences_path, ("sentid", "sentence"), "sentences")
    slots = _slots(_read(templates_path, ("occupation(0)", "other-participant(1)", "answer", "sentence"), "templates"))
    stats = _stats(_read(stats_path, ("occupation", "bls_pct_female"), "occupation statistics"))
    out = []
    for i, row in enumerate(sentences.rows):
        parts = str(row["sentid"]).strip().removesuffix(".txt").split(".")
        if len(parts) != 4 or parts[2] not in ("0", "1") or parts[3] not in GENDERS:
            raise DataError(f"{sentences.where(i)}: sentid {row['sentid']!r}; expected occupation.participant.0|1.male|female|neutral.txt")
        occupation, participant, label, gender = parts[0], parts[1], int(parts[2]), parts[3]
        if (occupation, label) not in slots:
            raise DataError(f"{sentences.where(i)}: no template for occupation {occupation!r} with answer {label} in {templates_path.name}")
        if occupation not in stats:
            raise DataError(f"{sentences.where(i)}: occupation {occupation!r} is not in {stats_path.name}")
        text = str(row["sentence"]).strip()
        if not text:
            raise DataError(f"{sentences.where(i)}: empty sentence")
        pct = stats[occupation]
        majority = "female" if pct > 50.0 else "male"
        out.append(WinogenderSentence(
            item=".".join(parts), sentence=text, pronoun=PRONOUNS[slots[(occupation, label)]][gender], occupation=occupation,
            participant=participant, gender=gender, label=label, gotcha=gender != "neutral" and gender != majority,
            bls_pct_female=pct,
        ))
    if not out:
        raise DataError(f"{sentences_path}: no sentences; expected 720 rows after the header")
    return out


class WinogenderDataset(EvalDataset):
    """Winogender schemas (rudinger/winogender-schemas ``data/``): sentences, templates, occupation statistics."""

    name: ClassVar[str] = "winogender"
    description: ClassVar[str] = "Winogender: 720 occupation/participant coreference sentences with he/she/they"
    files: ClassVar[tuple[DataFile, ...]] = (SENTENCES_FILE, TEMPLATES_FILE, STATS_FILE)
    license: ClassVar[str] = "MIT"
    citation: ClassVar[str] = (
        "Rudinger, Naradowsky, Leonard, Van Durme. Gender Bias in Coreference Resolution. NAACL 2018. "
        "https://github.com/rudinger/winogender-schemas"
    )

    def load(self, data: DataLocatorProto) -> list[WinogenderSentence]:
        return parse_winogender(data.path(SENTENCES_FILE), data.path(TEMPLATES_FILE), data.path(STATS_FILE))
