"""``check`` exits non-zero on every damage a results folder can have; ``compare`` names what it
leaves out and why, and blames the real cause (issue 25)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from debiasbench.cli import app
from tests.damaged_results import DAMAGE, damaged, healthy

runner = CliRunner()


def test_a_healthy_folder_passes(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", str(healthy(tmp_path / "results"))])
    assert result.exit_code == 0 and "2 complete runs" in result.stdout and "0 damaged" in result.stdout, result.output


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_check_exits_non_zero_on_each_damage(kind: str, tmp_path: Path) -> None:
    folder = damaged(tmp_path / "results", kind)
    result = runner.invoke(app, ["check", str(folder)])
    assert result.exit_code == 1, f"{kind}: exit {result.exit_code}\n{result.output}"
    assert DAMAGE[kind][1] in result.output, f"{kind}: {DAMAGE[kind][1]!r} not in\n{result.output}"
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("kind", "words"), [
    ("metrics deleted", "has a runs row but no metric rows"),  # a complete run silently dropped before
    ("items deleted", "has no per-item rows"),
    ("after items stripped", "has before but no after item rows"),
])
def test_compare_names_what_it_leaves_out(kind: str, words: str, tmp_path: Path) -> None:
    folder = damaged(tmp_path / "results", kind)
    result = runner.invoke(app, ["compare", str(folder), "-f", "csv"])
    assert "Traceback" not in result.output
    assert words in result.stderr, result.output
    strict = runner.invoke(app, ["compare", str(folder), "-f", "csv", "--strict"])
    assert strict.exit_code == 1 and "--strict" in strict.output


def test_compare_stops_at_a_cut_items_file_in_one_line(tmp_path: Path) -> None:
    folder = damaged(tmp_path / "results", "items truncated")
    result = runner.invoke(app, ["compare", str(folder)])
    assert result.exit_code == 1 and "r0.parquet is not a readable Parquet file" in result.output, result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


def test_compare_file_blames_the_damaged_file_not_a_missing_runs_row(tmp_path: Path) -> None:
    folder = damaged(tmp_path / "results", "metrics truncated")
    result = runner.invoke(app, ["compare", str(folder / "runs" / "r0.parquet")])
    assert result.exit_code == 1 and "its file is damaged" in result.output and "not a readable Parquet file" in result.output
    assert "runs row is missing" not in result.output
