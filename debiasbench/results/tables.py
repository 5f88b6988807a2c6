"""Reading and building result tables: rows to Arrow tables, a results folder's tables back.

Writes go through :func:`debiasbench.support.atomic.write_table_atomic`; schemas live in
:mod:`debiasbench.results.schemas`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from debiasbench.errors import DebiasbenchError
from debiasbench.results.schemas import TABLES


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


def read_table(results_dir: Path, name: str) -> pa.Table:
    """All rows of one table across runs (empty table with the schema when there are none)."""
    import pyarrow.dataset as ds

    schema = TABLES[name]
    folder = Path(results_dir) / name
    if not folder.is_dir() or not any(folder.glob("*.parquet")):
        return schema.empty_table()
    dataset = ds.dataset(str(folder), format="parquet", schema=schema, exclude_invalid_files=True)
    return dataset.to_table()


