"""Reading forget-set files and filtering their rows, with one-line errors that say which filter
left nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from debiasbench.api import DataError
from debiasbench.api.data import load_rows

Row = dict[str, str]


def read_csv(path: Path, required: Sequence[str], encoding: str = "utf-8") -> list[Row]:
    """All rows of a CSV file as dicts of text (read with ``datasets``); a missing column is a DataError naming it.

    Values are kept as written ("NA" stays "NA"); numeric columns come back as their number's text.
    ``encoding`` is for original releases that are not UTF-8 (one RedditBias file is Mac Roman).
    """
    table = load_rows(path, "csv", expected="the original release's CSV", keep_default_na=False, na_filter=False,
                      encoding=encoding)
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise DataError(f"{path} lacks the column(s) {', '.join(missing)}; is it the original release?")
    return [{key: _text(value) for key, value in row.items()} for row in table.rows]


def _text(value: object) -> str:
    """A cell as text; a missing cell (a short row) is empty, as the csv module gives it."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return value if isinstance(value, str) else str(value)


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
