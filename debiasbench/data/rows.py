"""Read a data file's rows with Hugging Face ``datasets``; errors name the file, the line and what was expected.

Data-set plugins find a file with :class:`debiasbench.data.locator.DataLocator` (data dir, cache, URL;
sha256 checked) and parse it here. ``datasets`` converts it to Arrow once and keeps that under
the toolkit cache (``<cache>/datasets``), so later runs memory-map it instead of parsing again.
``datasets`` reports a bad file as "An error occurred while generating the dataset"; this module
digs out the parser's own message, and for the usual cases (bytes that are not UTF-8, a JSON line
that does not parse) finds the line itself, so the user gets one line that says where and what.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from debiasbench.errors import DataError
from debiasbench.runtime.paths import cache_dir

Builder = Literal["csv", "json", "parquet"]


@dataclass(frozen=True)
class RowFile:
    """The rows of one file, as dicts in file order, and how to point at one of them."""

    path: Path
    builder: Builder
    columns: list[str]
    rows: list[dict[str, Any]]

    def line(self, index: int) -> int | None:
        """The line on which row ``index`` (0-based) starts in a CSV or JSON-lines file; None for other layouts."""
        lines = self._row_lines
        return lines[index] if lines is not None and index < len(lines) else None

    def where(self, index: int) -> str:
        """``"<path>: line N"`` for row ``index``, or ``"<path>: record N"`` where rows are not lines."""
        line = self.line(index)
        return f"{self.path}: line {line}" if line is not None else f"{self.path}: record {index + 1}"

    @cached_property
    def _row_lines(self) -> list[int] | None:
        return _row_lines(self.path, self.builder)


def load_rows(path: Path, builder: Builder, *, expected: str, **options: Any) -> RowFile:
    """Every row of ``path`` parsed by the ``datasets`` builder ``builder`` (options go to it).

    ``expected`` completes the error line: "...; expected <expected>".
    """
    import datasets

    try:
        with _quiet(datasets):
            table = datasets.load_dataset(
                builder, data_files=str(path), split="train", cache_dir=str(cache_dir() / "datasets"), **options,
            )
    except Exception as exc:  # noqa: BLE001 - datasets wraps every parser error; each becomes one DataError line
        if isinstance(exc, ValueError) and "corresponds to no data" in str(exc) and path.stat().st_size:
            return RowFile(path=path, builder=builder, columns=_header(path, builder), rows=[])  # a header, no rows
        raise DataError(describe_failure(path, builder, exc, expected)) from None
    return RowFile(path=path, builder=builder, columns=list(table.column_names), rows=table.to_list())


@contextlib.contextmanager
def _quiet(datasets: Any) -> Iterator[None]:
    """No ``datasets`` progress bars or error logs: the toolkit reports with its own bars and one error line."""
    bars_were_on = datasets.is_progress_bar_enabled()
    logger = logging.getLogger("datasets")
    level = logger.level
    datasets.disable_progress_bars()
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)
        if bars_were_on:
            datasets.enable_progress_bars()


def _header(path: Path, builder: str) -> list[str]:
    """Column names of a file without rows (a CSV's header line)."""
    if builder != "csv":
        return []
    with open(path, encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle), [])


def describe_failure(path: Path, builder: str, exc: BaseException, expected: str) -> str:
    """One line for a file ``datasets`` could not parse: the file, the line where known, the parser's reason."""
    root = exc
    while root.__cause__ is not None or root.__context__ is not None:
        root = root.__cause__ or root.__context__  # type: ignore[assignment]
    raw = path.read_bytes() if path.is_file() else b""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        line = raw.count(b"\n", 0, bad.start) + 1
        return f"{path}: line {line}: byte {bad.start} is not UTF-8; expected {expected}"
    if not text.strip():
        return f"{path}: empty file; expected {expected}"
    if builder == "json":
        located = _bad_json_line(text)
        if located:
            return f"{path}: {located}; expected {expected}"
    reason = str(root).strip().splitlines()[0] if str(root).strip() else type(root).__name__
    return f"{path}: {reason} ({type(root).__name__}); expected {expected}"


def _bad_json_line(text: str) -> str | None:
    """``"line N: invalid JSON (...)"`` for a JSON document or JSON-lines text that does not parse, else None."""
    try:
        json.loads(text)
        return None
    except json.JSONDecodeError as whole:
        if whole.msg != "Extra data":
            return f"line {whole.lineno}: invalid JSON ({whole.msg})"
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                json.loads(line)
            except json.JSONDecodeError as exc:
                return f"line {number}: invalid JSON ({exc.msg})"
    return None


def _row_lines(path: Path, builder: str) -> list[int] | None:
    """The line each row starts on (CSV after its header, JSON lines), or None for other layouts."""
    if builder == "csv":
        with open(path, encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            starts, start = [], reader.line_num + 1
            for _ in reader:
                starts.append(start)
                start = reader.line_num + 1
        return starts
    if builder == "json":
        text = path.read_text(encoding="utf-8")
        if text.lstrip().startswith("["):
            return None  # a JSON array: rows are records, not lines
        return [n for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    return None
