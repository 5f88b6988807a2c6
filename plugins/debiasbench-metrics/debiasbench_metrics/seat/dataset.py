"""The SEAT tests (May et al. 2019), as bias-bench ships them: one JSON object per ``seat/<test>.jsonl``
with ``targ1``, ``targ2``, ``attr1``, ``attr2``, each ``{"category": name, "examples": [sentence, ...]}``.

bias-bench keys each set's encodings by sentence, so a sentence repeated within a set counts once; the
loader keeps the first of each, likewise.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from debiasbench.api import DataError, DataFile, DataLocatorProto, EvalDataset, UnknownNameError
from debiasbench_metrics.seat.catalogue import TESTS

SETS: tuple[str, ...] = ("targ1", "targ2", "attr1", "attr2")


@dataclass(frozen=True)
class SeatSet:
    category: str
    examples: tuple[str, ...]


@dataclass(frozen=True)
class SeatTest:
    """One test: X = ``targ1``, Y = ``targ2``, A = ``attr1``, B = ``attr2``."""

    name: str
    domain: str
    targ1: SeatSet
    targ2: SeatSet
    attr1: SeatSet
    attr2: SeatSet


def seat_file(test: str) -> DataFile:
    return DataFile(f"seat/{test}.jsonl", sha256=TESTS[test][1])


def check_tests(names: Sequence[str]) -> tuple[str, ...]:
    """The names, each a known test, in the order given, once; else one line with a did-you-mean."""
    for name in names:
        if name not in TESTS:
            close = difflib.get_close_matches(name, list(TESTS), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"choose from {', '.join(TESTS)}"
            raise UnknownNameError(f"unknown SEAT test {name!r}; {hint}")
    if not names:
        raise UnknownNameError("no SEAT test named; choose from " + ", ".join(TESTS))
    return tuple(dict.fromkeys(names))


def parse_seat(path: Path, name: str, domain: str) -> SeatTest:
    """One test file; DataError names the file (and the line of a JSON syntax error) and what was expected."""
    expected = 'one JSON object with targ1, targ2, attr1, attr2, each {"category": ..., "examples": [...]}'
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: line {exc.lineno}: not JSON ({exc.msg}); expected {expected}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; expected {expected}") from None
    if not isinstance(raw, dict):
        raise DataError(f"{path}: line 1: not a JSON object; expected {expected}")
    sets = {}
    for key in SETS:
        entry = raw.get(key)
        examples = entry.get("examples") if isinstance(entry, dict) else None
        if not isinstance(examples, list) or not examples or not all(isinstance(e, str) and e.strip() for e in examples):
            raise DataError(f"{path}: {key!r} is missing, or its examples are not a non-empty list of sentences; expected {expected}")
        sets[key] = SeatSet(str(entry.get("category", key)), tuple(dict.fromkeys(examples)))
    if len(sets["targ1"].examples) != len(sets["targ2"].examples):
        raise DataError(f"{path}: targ1 has {len(sets['targ1'].examples)} distinct sentences and targ2 "
                        f"{len(sets['targ2'].examples)}; WEAT's permutation test needs target sets of equal size")
    return SeatTest(name=name, domain=domain, **sets)


class SeatDataset(EvalDataset):
    """bias-bench's 50 SEAT test files."""

    name: ClassVar[str] = "seat"
    description: ClassVar[str] = "SEAT: 50 sentence-embedding association tests (WEAT 1-10 as sentences, angry black woman, Heilman, religion)"
    files: ClassVar[tuple[DataFile, ...]] = tuple(seat_file(t) for t in TESTS)
    license: ClassVar[str] = "no licence file in bias-bench (tests from May et al. 2019, W4ngatang/sent-bias); research use"
    citation: ClassVar[str] = (
        "May, Wang, Bordia, Bowman, Rudinger. On Measuring Social Biases in Sentence Encoders. NAACL 2019. "
        "https://github.com/W4ngatang/sent-bias; Meade, Poole-Dayan, Reddy. An Empirical Survey of the Effectiveness "
        "of Debiasing Techniques for Pre-trained Language Models. ACL 2022. https://github.com/McGill-NLP/bias-bench"
    )

    def load(self, data: DataLocatorProto) -> dict[str, SeatTest]:
        return self.load_tests(data, tuple(TESTS))

    def load_tests(self, data: DataLocatorProto, names: Sequence[str]) -> dict[str, SeatTest]:
        """The named tests only (each name checked first)."""
        return {name: parse_seat(data.path(seat_file(name)), name, TESTS[name][0]) for name in check_tests(names)}
