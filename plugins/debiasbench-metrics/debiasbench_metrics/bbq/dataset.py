"""BBQ (Parrish et al. 2022): eleven JSON-lines category files, read when present (docs/concepts.md, "BBQ").

A data folder may hold only some categories (the shared one has six); :func:`load_bbq` reads
those and reports the others as missing instead of failing. Each example gets its biased answers
(:mod:`rules`, lm-evaluation-harness's rules) and its unknown answer (the one whose
``answer_info`` says ``unknown``). A row whose answer has no group labels is skipped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from debiasbench.api import DataError
from debiasbench.api import DataFile, DataLocatorProto, EvalDataset
from debiasbench.api.data import RowFile, load_rows

from debiasbench_metrics.bbq.rules import NoGroup, biased_answers

CATEGORY_SHA256: dict[str, str | None] = {
    "Age": "46e805b3fc2d8cbd26eeb8e8430d98cf7b2dc9c83574ff3674e8ce4f0fca2a60",
    "Disability_status": "375d40d9b71f056150264445ec189b13934998f3f49a1e311aa7578eb3b45e5f",
    "Gender_identity": None,
    "Nationality": "a583e74666aec0341ded8aa3983e7cad694eb24de72c254d28b2df3035720090",
    "Physical_appearance": "e48d7e13508565f4801574e611043470c25c95a0a62af3699cb5ee7cb02608fb",
    "Race_ethnicity": None,
    "Race_x_SES": None,
    "Race_x_gender": None,
    "Religion": "cb9555f9f3454a52cd2df85956b59bd7fcca5aa922c8527693b1164d08417616",
    "SES": None,
    "Sexual_orientation": "2c71036b9e7584fe589c42aef32c1a42bc01b9a5e9b1b8704342630cdb08cefd",
}
"""The eleven categories of nyu-mll/BBQ @ bea11bd9 ``data/``; checksums of the six in the shared data folder."""

NAMED_DOMAINS = {"Religion": "religion", "Gender_identity": "gender", "Race_ethnicity": "race",
                 "Sexual_orientation": "sexual-orientation", "Disability_status": "disability", "SES": "socioeconomic"}
"""Categories whose lower-cased name is not the toolkit's domain name (``debiasbench.api.data`` domains), so that
``--eval-domains disability`` selects BBQ's ``Disability_status`` as it selects CrowS-Pairs' disability pairs."""


def category_domain(category: str) -> str:
    """docs/concepts.md, "BBQ": six named mappings; every other category lower-cased with ``_`` -> ``-`` (the two
    intersectional ones, ``race-x-ses`` and ``race-x-gender``, are no single domain: they count in ``all`` only
    unless named by those labels)."""
    return NAMED_DOMAINS.get(category, category.lower().replace("_", "-"))


def category_file(category: str) -> DataFile:
    return DataFile(f"bbq/{category}.jsonl", sha256=CATEGORY_SHA256[category])


FIELDS = ("example_id", "question_polarity", "context_condition", "category", "answer_info", "additional_metadata",
          "context", "question", "ans0", "ans1", "ans2", "label")


@dataclass(frozen=True)
class BBQExample:
    """One question; ``biased`` and ``unknown`` index ``answers``."""

    item: str  # "<Category>-<example_id>", stable across runs
    category: str
    domain: str
    condition: str  # ambig | disambig
    polarity: str  # neg | nonneg
    context: str
    question: str
    answers: tuple[str, str, str]
    label: int
    unknown: int
    biased: tuple[int, ...]


@dataclass
class BBQData:
    """The examples of the category files found, the categories missing, and the rows skipped."""

    examples: list[BBQExample]
    present: list[str]
    missing: list[str]
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> rows
    checksums: dict[str, str] = field(default_factory=dict)


def parse_example(row: dict[str, Any], table: RowFile, index: int) -> BBQExample:
    """One BBQ row; DataError names the file and line of a malformed one, NoGroup an answer without labels."""
    missing = [f for f in FIELDS if f not in row or row[f] is None]
    if missing:
        raise DataError(f"{table.where(index)}: missing field(s) {', '.join(missing)}; expected a BBQ example")
    answers = (str(row["ans0"]), str(row["ans1"]), str(row["ans2"]))
    info = row["answer_info"]
    try:
        unknowns = [i for i in range(3) if (info[f"ans{i}"] or [""])[-1] == "unknown"]
        label = int(row["label"])
        stereotyped = list(row["additional_metadata"]["stereotyped_groups"])
    except (KeyError, IndexError, TypeError, ValueError):
        raise DataError(f"{table.where(index)}: answer_info, label or stereotyped_groups malformed; expected a BBQ example") from None
    if len(unknowns) != 1 or label not in (0, 1, 2):
        raise DataError(f"{table.where(index)}: expected exactly one 'unknown' answer and a label 0-2")
    category = str(row["category"])
    return BBQExample(
        item=f"{category}-{row['example_id']}", category=category, domain=category_domain(category),
        condition=str(row["context_condition"]), polarity=str(row["question_polarity"]), context=str(row["context"]),
        question=str(row["question"]), answers=answers, label=label, unknown=unknowns[0],
        biased=tuple(biased_answers(answers, info, stereotyped, str(row["question_polarity"]))),
    )


def present_files(data: DataLocatorProto) -> dict[str, DataFile | None]:
    """Each category's file where the data folder (or cache) has it, else None; a checksum mismatch raises."""
    found: dict[str, DataFile | None] = {}
    for category in CATEGORY_SHA256:
        file = category_file(category)
        try:
            data.path(file)
        except DataError as exc:
            if "missing data file" not in str(exc):
                raise  # a checksum mismatch is an error, not a missing file
            found[category] = None
            continue
        found[category] = file
    return found


def present_checksums(data: DataLocatorProto) -> dict[str, str]:
    """sha256 of every category file present (keys the baseline cache without parsing the files)."""
    return {f.relpath: data.checksum(f) for f in present_files(data).values() if f is not None}


def load_bbq(data: DataLocatorProto) -> BBQData:
    """Every category file the data folder (or cache) has; the others are listed as missing."""
    out = BBQData(examples=[], present=[], missing=[])
    for category, file in present_files(data).items():
        if file is None:
            out.missing.append(category)
            continue
        table = load_rows(data.path(file), "json", expected="BBQ JSON lines (one example per line)")
        for index, row in enumerate(table.rows):
            try:
                out.examples.append(parse_example(row, table, index))
            except NoGroup:
                out.skipped["an answer has no group labels"] = out.skipped.get("an answer has no group labels", 0) + 1
        out.present.append(category)
        out.checksums[file.relpath] = data.checksum(file)
    if not out.present:
        raise DataError("no BBQ category file found: expected bbq/<Category>.jsonl (e.g. bbq/Religion.jsonl) in the data folder")
    return out


class BBQDataset(EvalDataset):
    """BBQ: hand-built multiple-choice questions, ambiguous and disambiguated, in eleven categories."""

    name: ClassVar[str] = "bbq"
    description: ClassVar[str] = "BBQ: 58,492 questions in 11 categories (reads the category files present)"
    files: ClassVar[tuple[DataFile, ...]] = ()  # which of the eleven exist varies; load() records those read
    license: ClassVar[str] = "CC BY 4.0"
    citation: ClassVar[str] = (
        "Parrish, Chen, Nangia, Padmakumar, Phang, Thompson, Htut, Bowman. BBQ: A Hand-Built Bias Benchmark for "
        "Question Answering. Findings of ACL 2022. https://github.com/nyu-mll/BBQ"
    )

    def load(self, data: DataLocatorProto) -> BBQData:
        return load_bbq(data)
