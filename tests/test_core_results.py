"""Result tables: schema, atomic writes, reading a directory with concurrent writers."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from pathlib import Path

import pytest

from debiasbench.errors import DebiasbenchError
from debiasbench.results.schemas import METRICS_SCHEMA
from debiasbench.results.tables import check_results_dir, read_table, to_table
from debiasbench.runtime.atomic import write_table_atomic


def _row(run_id: str, value: float) -> dict:
    return {"run_id": run_id, "time": dt.datetime.now(dt.timezone.utc), "model": "m", "method": "none",
            "domain": "gender", "metric": "crows-pairs", "measure": "crows-pairs.score", "value": value, "n": 262,
            "stage": "before", "seed": 0}


def _write_run(folder: str, run_id: str) -> None:
    rows = [_row(run_id, float(i)) for i in range(200)]
    write_table_atomic(to_table(rows, METRICS_SCHEMA), Path(folder) / "metrics" / f"{run_id}.parquet")


def test_to_table_fills_missing_columns_with_nulls() -> None:
    table = to_table([_row("r", 1.0)], METRICS_SCHEMA)
    assert table.schema == METRICS_SCHEMA and table.column("ci_low").null_count == 1


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_run, args=(str(tmp_path), f"run{i}")) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    table = read_table(tmp_path, "metrics")
    assert sorted(set(table.column("run_id").to_pylist())) == ["run0", "run1", "run2", "run3"]
    assert table.num_rows == 800
    assert not [p for p in (tmp_path / "metrics").iterdir() if p.name.startswith(".")]


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    class Boom:
        schema = None

    with pytest.raises(Exception):
        write_table_atomic(Boom(), tmp_path / "metrics" / "x.parquet")  # type: ignore[arg-type]
    assert list((tmp_path / "metrics").iterdir()) == []


def test_read_ignores_temp_files(tmp_path: Path) -> None:
    _write_run(str(tmp_path), "done")
    (tmp_path / "metrics" / ".tmp-half.parquet").write_bytes(b"PAR1 half written")
    assert read_table(tmp_path, "metrics").num_rows == 200


def test_results_dir_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "results"
    target.write_text("not a folder")
    with pytest.raises(DebiasbenchError, match="is a file, not a folder"):
        check_results_dir(target)
