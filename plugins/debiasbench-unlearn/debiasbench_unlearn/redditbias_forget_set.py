"""RedditBias (Barikeri et al. 2021) as a forget set (docs/concepts.md, "RedditBias as a forget set").

Forget texts are the annotated comments with ``bias_phrase == 1``; the annotated ``phrase``,
located verbatim in the comment, is the harmful span (rows where it is not found are dropped and
counted). Retain texts are comments with ``bias_sent == 0`` and ``bias_phrase == 0``. Comments that
are RedditBias test sentences (the group's ``*_biased_test_reduced.csv``) are never forget or
retain text, since the ``redditbias`` metric scores them. :meth:`RedditBias.load_report` gives the
counts of every removal and drop, for the run record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from debiasbench.api import DataFile, DataLocatorProto, ForgetSet, ForgetText, PresetValues
from debiasbench_unlearn.forget_presets import FORGET_SET_PRESETS

from debiasbench_unlearn.tables import Row, check_split, groups_of, read_csv

SOURCE = "umanlp/RedditBias @ 61f9ae94, data/"
"""No download url: the short commit is all that is recorded; the files come from the data folder."""


@dataclass(frozen=True)
class GroupFiles:
    """The annotated comments of one targeted group and its test sentences."""

    group: str  # female, black, jews, muslims, lgbtq
    dim: str  # the release's folder: gender, race, religion1, religion2, orientation
    annotated_sha256: str
    test_sha256: str
    encoding: str = "utf-8"

    @property
    def annotated(self) -> DataFile:
        name = f"{self.dim}/reddit_comments_{self.dim}_{self.group}_processed_phrase_annotated.csv"
        return DataFile(f"redditbias/{name}", sha256=self.annotated_sha256)

    @property
    def test(self) -> DataFile:
        name = f"{self.dim}/reddit_comments_{self.dim}_{self.group}_biased_test_reduced.csv"
        return DataFile(f"redditbias/{name}", sha256=self.test_sha256)


GROUPS: tuple[GroupFiles, ...] = (
    GroupFiles("female", "gender", "7f5547e2f31a241136725283499097347798749bde43609f0dab3210908d5513",
               "6f879a2bd92adeb61a8865c273f4724a989a0046ff74a59b8731af53a18303e6"),
    GroupFiles("black", "race", "d1ebfaf0d6e714fc3b64e3cb57e0bfc5f68e3f88e4512796d9c7da115ccd7c37",
               "08d26f74e4ef42be999bafb5770f63fc239cb767611eb93aa713ad8eb93875a0"),
    # The release's jews file holds one Mac Roman byte (0xD5, a right quote) and is otherwise ASCII.
    GroupFiles("jews", "religion1", "f4a0d85b34c5355a6336857827cea322cefe8a3f71ff3cdb383c440fe2870f2e",
               "4d615949b94cf3babdc9164e08132b885dfd93e6c128e0a5a582934d22b3ad36", encoding="mac_roman"),
    GroupFiles("muslims", "religion2", "3c8a5b5670e6166f2e717304c1cab97678800fa3d9d8486b1b0d3be7364723b7",
               "0a924d4ca7069f7db9e937440e7d8f15e43563f5c83bd1506680d252abfa33f6"),
    GroupFiles("lgbtq", "orientation", "1c9c5a12d62287f625834f5adda4208306eb9cf8ce15e59f04cfe3b02896c02f",
               "2664ac0a26b65bde99c12db737f729823bf6e4fcd1c7bd22eb8da9e8960556d5"),
)

GROUP_DOMAINS: dict[str, str] = {
    "female": "gender", "black": "race", "jews": "religion", "muslims": "religion", "lgbtq": "sexual-orientation",
}
"""Targeted group -> canonical domain (docs/concepts.md, "Forget sets")."""

COLUMNS = ("comment", "phrase", "bias_sent", "bias_phrase")


def flag(value: str) -> int | None:
    """An annotation cell as 0 or 1; None for empty cells and free-text notes ("1 - context needed")."""
    try:
        number = float(value)
    except ValueError:
        return None
    return int(number) if number in (0.0, 1.0) else None


@dataclass
class GroupSplit:
    """One group's annotated rows sorted into forget and retain text, with what was left out."""

    forget: list[ForgetText]
    retain: list[str]
    counts: dict[str, int]


def split_group(files: GroupFiles, rows: list[Row], test_rows: list[Row], domain: str) -> GroupSplit:
    """docs/concepts.md, "RedditBias as a forget set", for one group: drop test sentences, then pick forget rows and retain rows."""
    tests = {row["comment"].strip().lower() for row in test_rows}
    forget: list[ForgetText] = []
    retain: list[str] = []
    removed = not_found = empty = 0
    for row in rows:
        comment = row["comment"].strip()
        if not comment:
            empty += 1
            continue
        if comment.lower() in tests:
            removed += 1
            continue
        sent, phrase_flag = flag(row["bias_sent"]), flag(row["bias_phrase"])
        if phrase_flag == 1:
            start = comment.find(row["phrase"]) if row["phrase"] else -1
            if start < 0:
                not_found += 1
                continue
            span = ((start, start + len(row["phrase"])),)
            forget.append(ForgetText(text=comment, domain=domain, group=files.group, spans=span, source="redditbias"))
        elif sent == 0 and phrase_flag == 0:
            retain.append(comment)
    counts = {
        "annotated_rows": len(rows), "test_sentences": len(test_rows), "removed_test_rows": removed,
        "empty_comment_rows": empty, "dropped_phrase_not_found": not_found, "forget_texts": len(forget),
        "retain_texts": len(retain),
    }
    return GroupSplit(forget=forget, retain=retain, counts=counts)


class RedditBias(ForgetSet):
    """RedditBias annotated Reddit comments: biased comments are forget texts with their annotated
    phrase as the span (works with the ``annotated`` selector); unbiased ones are retain text."""

    name: ClassVar[str] = "redditbias"
    presets: ClassVar[Mapping[str, PresetValues]] = FORGET_SET_PRESETS
    description: ClassVar[str] = (
        "RedditBias annotated Reddit comments (female, black, jews, muslims, lgbtq) with annotated phrases; "
        "test sentences removed"
    )
    files: ClassVar[tuple[DataFile, ...]] = tuple(f for g in GROUPS for f in (g.annotated, g.test))
    license: ClassVar[str] = "MIT"
    citation: ClassVar[str] = (
        "Barikeri, Lauscher, Vulić, Glavaš. RedditBias: A Real-World Resource for Bias Evaluation and Debiasing of "
        "Conversational Language Models. ACL 2021. https://github.com/umanlp/RedditBias"
    )

    def domains(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(GROUP_DOMAINS.values()))

    def _split(self, data: DataLocatorProto, domain: str) -> list[GroupSplit]:
        groups = groups_of(domain, GROUP_DOMAINS, self.name, self.domains())
        out = []
        for files in (g for g in GROUPS if g.group in groups):
            rows = read_csv(data.path(files.annotated), COLUMNS, encoding=files.encoding)
            test_rows = read_csv(data.path(files.test), ("comment",))
            out.append(split_group(files, rows, test_rows, domain))
        return out

    def load_forget(self, data: DataLocatorProto, domain: str, split: str | None = None) -> list[ForgetText]:
        """Every forget row, duplicates kept (the counts of docs/concepts.md, "RedditBias as a forget set", are
        rows: 1,775 female texts, 1,774 distinct)."""
        check_split(split, self.name)
        return [item for part in self._split(data, domain) for item in part.forget]

    def load_retain(self, data: DataLocatorProto, domain: str) -> list[str]:
        return list(dict.fromkeys(t for part in self._split(data, domain) for t in part.retain))

    def load_report(self, data: DataLocatorProto, domain: str) -> dict[str, Any]:
        """What building ``domain``'s texts removed and dropped, per group, for the run record.

        Keys per group: ``annotated_rows``, ``test_sentences``, ``removed_test_rows`` (comments that are
        test sentences), ``empty_comment_rows``, ``dropped_phrase_not_found``, ``forget_texts``,
        ``retain_texts`` (before de-duplication).
        """
        groups = [g.group for g in GROUPS if GROUP_DOMAINS[g.group] == domain]
        return {"forget_set": self.name, "domain": domain,
                "groups": {g: part.counts for g, part in zip(groups, self._split(data, domain))}}
