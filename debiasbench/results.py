"""The result tables: Arrow schemas, atomic Parquet writes, and reading a results directory.

Layout of a results directory (one file per run in each table, so concurrent runs never
touch the same file)::

    RESULTS/metrics/<run_id>.parquet        long format: one value per row
    RESULTS/runs/<run_id>.parquet           one row: resolved config, versions, checksums
    RESULTS/trajectories/<run_id>.parquet   probe scores every --eval-every steps
    RESULTS/examples/<run_id>/<metric>-<stage>.parquet   per-pair scores (--save-examples)

Every file is written to a dot-prefixed temp file in the same folder and renamed into
place, so a killed run leaves no half file and readers (``pyarrow.dataset`` ignores
dot-files) never see one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from debiasbench.errors import DebiasbenchError

METRICS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("time", pa.timestamp("us", tz="UTC")),
        ("model", pa.string()),
        ("model_fingerprint", pa.string()),
        ("method", pa.string()),  # "none" for a plain evaluation
        ("forget_set", pa.string()),
        ("source_domain", pa.string()),  # what was unlearned; "none" for a plain evaluation
        ("domain", pa.string()),  # evaluated domain; "all" for overall figures
        ("metric", pa.string()),  # metric plugin name, e.g. "crows-pairs"
        ("measure", pa.string()),  # e.g. "crows-pairs.score"
        ("value", pa.float64()),
        ("n", pa.int64()),
        ("ci_low", pa.float64()),
        ("ci_high", pa.float64()),
        ("stage", pa.string()),  # before | after
        ("seed", pa.int64()),
        ("protocol", pa.string()),  # JSON: every choice that changes the number
        ("data_checksum", pa.string()),  # JSON: file -> sha256
        ("ideal", pa.float64()),
        ("better", pa.string()),  # closer | higher | lower
        ("plugin_version", pa.string()),  # "distribution version" of the metric's plugin
        ("preset", pa.string()),
        ("method_options", pa.string()),  # JSON of the resolved method options
        ("config_hash", pa.string()),  # identifies the run configuration (sweep resume)
    ]
)

RUNS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("time", pa.timestamp("us", tz="UTC")),
        ("command", pa.string()),  # run | eval
        ("model", pa.string()),
        ("model_fingerprint", pa.string()),
        ("method", pa.string()),
        ("forget_set", pa.string()),
        ("source_domain", pa.string()),
        ("seed", pa.int64()),
        ("preset", pa.string()),
        ("config", pa.string()),  # JSON: the resolved configuration
        ("config_hash", pa.string()),
        ("versions", pa.string()),  # JSON: debiasbench, torch, transformers and every plugin
        ("data_checksums", pa.string()),  # JSON
        ("duration_s", pa.float64()),
        ("stop_reason", pa.string()),
        ("steps", pa.int64()),
        ("forget_texts", pa.int64()),
        ("selected_tokens", pa.int64()),
        ("total_tokens", pa.int64()),
        ("peak_memory_mb", pa.float64()),
        ("device", pa.string()),
        ("dtype", pa.string()),
    ]
)

TRAJECTORY_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("step", pa.int64()),
        ("epoch", pa.int64()),
        ("forget_loss", pa.float64()),
        ("retain_loss", pa.float64()),
        ("domain", pa.string()),
        ("metric", pa.string()),  # the probed metric, e.g. "crows-pairs"
        ("measure", pa.string()),
        ("value", pa.float64()),
        ("ideal", pa.float64()),
        ("distance", pa.float64()),  # |value - ideal| (or value itself when ideal is None)
    ]
)

TABLES = {"metrics": METRICS_SCHEMA, "runs": RUNS_SCHEMA, "trajectories": TRAJECTORY_SCHEMA}


def check_results_dir(path: Path) -> Path:
    """Create the results directory, or fail in one line when it cannot be one."""
    if path.exists() and not path.is_dir():
        raise DebiasbenchError(f"results dir {path} is a file, not a folder; pass --results-dir to a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DebiasbenchError(f"cannot create results dir {path}: {exc.strerror}; pass --results-dir to a writable folder") from None
    return path


def to_table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Rows (dicts) -> an Arrow table with exactly ``schema``; missing keys become nulls."""
    columns = {name: [row.get(name) for row in rows] for name in schema.names}
    return pa.Table.from_pydict(columns, schema=schema)


def write_atomic(table: pa.Table, target: Path) -> Path:
    """Write ``table`` to ``target`` via a dot-prefixed temp file and an atomic rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".parquet")
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def read_table(results_dir: Path, name: str) -> pa.Table:
    """All rows of one table across runs (empty table with the schema when there are none)."""
    import pyarrow.dataset as ds

    schema = TABLES[name]
    folder = Path(results_dir) / name
    if not folder.is_dir() or not any(folder.glob("*.parquet")):
        return schema.empty_table()
    dataset = ds.dataset(str(folder), format="parquet", schema=schema, exclude_invalid_files=True)
    return dataset.to_table()


def dumps(value: Any) -> str:
    """Stable JSON used in table cells (sorted keys, paths as strings)."""
    return json.dumps(value, sort_keys=True, default=str)
