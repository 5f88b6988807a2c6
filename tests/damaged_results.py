"""Results folders with one kind of damage each (issue 25), for ``check``, ``compare`` and the bad-input suite.

Every folder starts as two complete runs whose metric rows are computed from per-item rows
(``aggregate`` set), before and after; one function then damages it the way a real folder gets
damaged (a deleted file, a cut copy, an edited table, a killed run, a foreign file).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from debiasbench.results.schemas import ITEMS_SCHEMA, METRICS_SCHEMA, RUNS_SCHEMA
from debiasbench.results.tables import to_table

WHEN = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
ITEMS = [f"pair-{i}" for i in range(6)]


def write_paired_run(folder: Path, run_id: str, *, seed: int = 0, stages: tuple[str, ...] = ("before", "after"),
                     items: bool = True, runs_row: bool = True, config_hash: str | None = None) -> None:
    """One complete method run: crows-pairs.score on gender, its value the mean of six item rows per stage."""
    metrics, item_rows = [], []
    for stage in stages:
        values = [float(i % 2) for i in range(len(ITEMS))] if stage == "before" else [0.0] * len(ITEMS)
        metrics.append({"run_id": run_id, "time": WHEN, "model": "tiny", "method": "mlm-unlearn", "forget_set": "hatecheck",
                        "source_domain": "gender", "domain": "gender", "metric": "crows-pairs", "measure": "crows-pairs.score",
                        "value": 100 * sum(values) / len(values), "n": len(values), "stage": stage, "seed": seed,
                        "protocol": json.dumps({"scoring": "mean"}), "data_checksum": json.dumps({"f": "1"}), "ideal": 50.0,
                        "better": "closer", "headline": True, "aggregate": "mean", "preset": "quick", "method_options": "{}",
                        "config_hash": config_hash or f"hash-{run_id}"})
        item_rows += [{"run_id": run_id, "stage": stage, "metric": "crows-pairs", "measure": "crows-pairs.score", "domain": "gender",
                       "item": item, "value": value, "split": "test"} for item, value in zip(ITEMS, values)]
    (folder / "metrics").mkdir(parents=True, exist_ok=True)
    pq.write_table(to_table(metrics, METRICS_SCHEMA), folder / "metrics" / f"{run_id}.parquet")
    if items:
        (folder / "items").mkdir(exist_ok=True)
        pq.write_table(to_table(item_rows, ITEMS_SCHEMA), folder / "items" / f"{run_id}.parquet")
    if runs_row:
        (folder / "runs").mkdir(exist_ok=True)
        run = {"run_id": run_id, "time": WHEN, "command": "run", "model": "tiny", "method": "mlm-unlearn", "source_domain": "gender",
               "seed": seed, "config_hash": config_hash or f"hash-{run_id}", "duration_s": 1.0}
        pq.write_table(to_table([run], RUNS_SCHEMA), folder / "runs" / f"{run_id}.parquet")


def healthy(folder: Path) -> Path:
    write_paired_run(folder, "r0", seed=0)
    write_paired_run(folder, "r1", seed=1)
    return folder


def _strip(path: Path, stage: str) -> None:
    table = pq.read_table(path)
    pq.write_table(table.filter(pa.compute.not_equal(table.column("stage"), stage)), path)


def _cut(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:120])


def items_deleted(folder: Path) -> None:
    for path in (folder / "items").glob("*.parquet"):
        path.unlink()


def items_truncated(folder: Path) -> None:
    _cut(folder / "items" / "r0.parquet")


def items_zero_bytes(folder: Path) -> None:
    (folder / "items" / "r0.parquet").write_bytes(b"")


def after_rows_stripped(folder: Path) -> None:
    _strip(folder / "metrics" / "r0.parquet", "after")


def before_rows_stripped(folder: Path) -> None:
    _strip(folder / "metrics" / "r0.parquet", "before")


def after_items_stripped(folder: Path) -> None:
    _strip(folder / "items" / "r0.parquet", "after")


def before_items_stripped(folder: Path) -> None:
    _strip(folder / "items" / "r0.parquet", "before")


def item_missing_after(folder: Path) -> None:
    table = pq.read_table(folder / "items" / "r0.parquet")
    keep = [not (r["stage"] == "after" and r["item"] == ITEMS[0]) for r in table.to_pylist()]
    pq.write_table(table.filter(pa.array(keep)), folder / "items" / "r0.parquet")


def metrics_deleted(folder: Path) -> None:
    (folder / "metrics" / "r0.parquet").unlink()


def metrics_truncated(folder: Path) -> None:
    _cut(folder / "metrics" / "r0.parquet")


def runs_truncated(folder: Path) -> None:
    _cut(folder / "runs" / "r0.parquet")


def runs_deleted(folder: Path) -> None:
    (folder / "runs" / "r0.parquet").unlink()


def orphan_items(folder: Path) -> None:
    write_paired_run(folder, "killed", seed=2, runs_row=False)
    (folder / "metrics" / "killed.parquet").unlink()


def repeated_run(folder: Path) -> None:
    write_paired_run(folder, "again", seed=0, config_hash="hash-r0")


def foreign_metrics(folder: Path) -> None:
    pq.write_table(pa.table({"foo": [1, 2]}), folder / "metrics" / "foreign.parquet")


def foreign_items(folder: Path) -> None:
    pq.write_table(pa.table({"run_id": ["x"], "colour": ["red"]}), folder / "items" / "foreign.parquet")


def trajectory_truncated(folder: Path) -> None:
    (folder / "trajectories").mkdir(exist_ok=True)
    (folder / "trajectories" / "r0.parquet").write_bytes(b"PAR1 cut")


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "items deleted": (items_deleted, "has no per-item rows"),
    "items truncated": (items_truncated, "not a readable Parquet file"),
    "items zero bytes": (items_zero_bytes, "empty file"),
    "after rows stripped": (after_rows_stripped, "has before but no after metric rows"),
    "before rows stripped": (before_rows_stripped, "has after but no before metric rows"),
    "after items stripped": (after_items_stripped, "has before but no after item rows"),
    "before items stripped": (before_items_stripped, "has after but no before item rows"),
    "one item missing after": (item_missing_after, "in only one of before/after"),
    "metrics deleted": (metrics_deleted, "has a runs row but no metric rows"),
    "metrics truncated": (metrics_truncated, "not a readable Parquet file"),
    "runs truncated": (runs_truncated, "not a readable Parquet file"),
    "runs deleted": (runs_deleted, "but no runs row"),
    "orphan items": (orphan_items, "have items but no runs row"),
    "repeated run": (repeated_run, "ran 2 times with the same seed"),
    "foreign metrics file": (foreign_metrics, "foreign schema"),
    "foreign items file": (foreign_items, "foreign schema"),
    "trajectory truncated": (trajectory_truncated, "not a readable Parquet file"),
}
"""damage -> (what does it, words ``check`` must print about it)."""


def damaged(folder: Path, kind: str) -> Path:
    """A healthy folder with the damage ``kind`` done to it."""
    healthy(folder)
    DAMAGE[kind][0](folder)
    return folder
