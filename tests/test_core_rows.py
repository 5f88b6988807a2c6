"""debiasbench.data.rows: files read with ``datasets``, values kept as written, failures as one line with file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from debiasbench.errors import DataError
from debiasbench.data.rows import load_rows


def test_csv_values_are_kept_as_written_and_rows_know_their_lines(tmp_path: Path):
    path = tmp_path / "pairs.csv"
    path.write_text('id,text\n0,NA\n1,"two\nlines"\n2,null\n')
    table = load_rows(path, "csv", expected="a CSV", keep_default_na=False, na_filter=False)
    assert table.columns == ["id", "text"]
    assert [r["text"] for r in table.rows] == ["NA", "two\nlines", "null"]  # no value turned into a missing one
    assert [table.line(i) for i in range(3)] == [2, 3, 5]
    assert table.where(2) == f"{path}: line 5"


def test_json_lines_skip_blank_lines_and_arrays_count_records(tmp_path: Path):
    lines = tmp_path / "rows.jsonl"
    lines.write_text('{"a": 1}\n\n{"a": 2}\n')
    table = load_rows(lines, "json", expected="JSON lines")
    assert [r["a"] for r in table.rows] == [1, 2] and table.where(1) == f"{lines}: line 3"
    array = tmp_path / "rows.json"
    array.write_text(json.dumps([{"a": {"b": [1, 2]}}, {"a": {"b": [3]}}]))
    table = load_rows(array, "json", expected="a JSON array")
    assert table.rows[1] == {"a": {"b": [3]}} and table.where(1) == f"{array}: record 2"


def test_a_header_without_rows_is_an_empty_table(tmp_path: Path):
    path = tmp_path / "empty.csv"
    path.write_text("id,text\n")
    table = load_rows(path, "csv", expected="a CSV")
    assert table.rows == [] and table.columns == ["id", "text"]


@pytest.mark.parametrize(
    ("name", "builder", "content", "message"),
    [
        ("bad.csv", "csv", b"a,b\n0,1\n1,2,3\n", r"Expected 2 fields in line 3, saw 3"),
        ("bad.csv", "csv", b"a,b\n0,1\n1,\xff\n", r"line 3: byte 10 is not UTF-8; expected a CSV"),
        ("bad.jsonl", "json", b'{"a": 1}\n\n{"a": 2}\n{not json\n', r"line 4: invalid JSON"),
        ("bad.json", "json", b'[{"a": 1},\n {"a": }]', r"line 2: invalid JSON"),
        ("empty.csv", "csv", b"", "empty file; expected a CSV"),
    ],
)
def test_unreadable_files_fail_with_one_line_naming_file_and_line(tmp_path: Path, name: str, builder: str, content: bytes, message: str):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        load_rows(path, builder, expected="a CSV" if builder == "csv" else "JSON")  # type: ignore[arg-type]
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)
