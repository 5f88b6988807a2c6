"""Reading forget-set files and filtering their rows, with one-line errors that say which filter
left nothing."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path

from debiasbench.errors import DataError

Row = dict[str, str]


def read_csv(path: Path, required: Sequence[str]) -> list[Row]:
    """All rows of a CSV file as dicts; a missing column is a DataError naming it."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path} lacks the column(s) {', '.join(missing)}; is it the original release?")
        return list(reader)


def apply_filters(rows: list[Row], filters: Sequence[tuple[str, Callable[[Row], bool]]], what: str) -> list[Row]:
    """Keep the rows that pass every filter, in order; if a filter leaves no row, raise a
    DataError naming it (``what``: the data set and domain, for the message)."""
    for description, keep in filters:
        before = len(rows)
        rows = [row for row in rows if keep(row)]
        if not rows:
            raise DataError(f"{what}: no rows left after the filter {description} (of {before} rows before it)")
    return rows


def unique(texts: list[str]) -> list[str]:
    """Non-empty texts, de-duplicated, first occurrence kept."""
    return list(dict.fromkeys(t for t in texts if t))


def check_split(split: str | None, dataset: str) -> None:
    """Data sets without splits reject an explicit one instead of silently ignoring it."""
    if split is not None:
        raise DataError(f"forget set {dataset!r} has no splits (got --split {split}); leave --split out")


def groups_of(domain: str, mapping: dict[str, str], dataset: str, domains: tuple[str, ...]) -> set[str]:
    """The data set's group labels for a domain; an unknown domain is one DataError line."""
    groups = {g for g, d in mapping.items() if d == domain}
    if not groups:
        raise DataError(f"forget set {dataset!r} has no texts for domain {domain!r}; its domains: {', '.join(domains)}")
    return groups
