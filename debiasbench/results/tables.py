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
    """Fail in one line, before any work, when ``path`` cannot take the run's tables; creates nothing
    (the tables' atomic writers create the folders), so a refused run leaves no empty folder."""
    import os

    from debiasbench.results.schemas import TABLES

    if path.exists() and not path.is_dir():
        raise DebiasbenchError(f"results dir {path} is a file, not a folder; pass --results-dir to a folder")
    if path.is_dir():
        for name in TABLES:
            entry = path / name
            if entry.exists() and not entry.is_dir():
                raise DebiasbenchError(f"results dir {path}: {entry} is a file where the {name!r} table folder belongs; "
                                       "move it away or pass another --results-dir")
            if entry.is_dir() and not os.access(entry, os.W_OK | os.X_OK):
                raise DebiasbenchError(f"results dir {path}: {entry} is not writable; fix its permissions or pass another --results-dir")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise DebiasbenchError(f"cannot create results dir {path}: {existing} is not a writable folder; "
                               "pass --results-dir to a writable folder")
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


