"""Reading and building result tables: rows to Arrow tables, a results directory's tables back.

A results directory is a local folder or an object-store URI; reads and writes go through
:class:`debiasbench.results.storage.ResultsStore` (atomic either way); schemas live in
:mod:`debiasbench.results.schemas`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from debiasbench.results.schemas import TABLES
from debiasbench.results.storage import ResultsLocation, ResultsStore, open_store


def check_results_dir(location: ResultsLocation) -> ResultsLocation:
    """Fail in one line, before any work (before a model loads), when ``location`` cannot take the
    run's tables: a local folder is checked without writing anything; an object store is probed
    with a marker object written and deleted (see :meth:`ResultsStore.check_writable`)."""
    open_store(location).check_writable()
    return location




def to_table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Rows (dicts) -> an Arrow table with exactly ``schema``; missing keys become nulls."""
    columns = {name: [row.get(name) for row in rows] for name in schema.names}
    return pa.Table.from_pydict(columns, schema=schema)


@dataclass(frozen=True)
class Skipped:
    """A results file left out, and why (named to the user; ``--strict`` makes it an error)."""

    path: ResultsLocation  # where the file is, as the user names it (a Path, or a URI string)
    reason: str

    @property
    def run_id(self) -> str:
        """The run the file belongs to (its name without ``.parquet``)."""
        return str(self.path).rsplit("/", 1)[-1].removesuffix(".parquet")

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def read_file(store: ResultsStore, key: str, schema: pa.Schema) -> pa.Table:
    """One results file with exactly ``schema`` (extra columns dropped), or ValueError saying what is wrong."""
    import pyarrow.parquet as pq

    try:
        data = store.read_bytes(key)
        if not data:
            raise ValueError("empty file (zero bytes): a write was cut off")
        table = pq.read_table(pa.BufferReader(data))  # reads every page, so a damaged page is found here
    except (OSError, pa.ArrowException) as exc:
        raise ValueError(f"not a readable Parquet file (truncated or damaged: {str(exc).splitlines()[0][:120]})") from None
    missing = [f.name for f in schema if f.name not in table.column_names]
    if "run_id" in missing or len(missing) * 2 > len(schema):
        raise ValueError(f"foreign schema: no column {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''} "
                         "(not a debiasbench results file, or from an incompatible version)")
    for name in missing:  # a column added in a later version: absent from older files, null there
        table = table.append_column(pa.field(name, schema.field(name).type), pa.nulls(table.num_rows, schema.field(name).type))
    try:
        return table.select(schema.names).cast(schema)
    except (pa.ArrowException, ValueError) as exc:
        raise ValueError(f"foreign schema: {str(exc).splitlines()[0][:120]}") from None


def read_table_checked(results_dir: ResultsLocation | ResultsStore, name: str) -> tuple[pa.Table, list[Skipped]]:
    """All rows of one table across runs, every unreadable or foreign file left out and named."""
    schema = TABLES[name]
    store = open_store(results_dir)

    def read(key: str) -> pa.Table | Skipped:
        try:
            return read_file(store, key, schema)
        except ValueError as exc:
            return Skipped(store.where(key), str(exc))

    read_back = store.map(read, store.list(name))
    tables = [t for t in read_back if isinstance(t, pa.Table)]
    skipped = [s for s in read_back if isinstance(s, Skipped)]
    return (pa.concat_tables(tables) if tables else schema.empty_table()), skipped


def read_table(results_dir: ResultsLocation | ResultsStore, name: str) -> pa.Table:
    """All rows of one table across runs (empty table with the schema when there are none); damaged
    files are left out here; :func:`read_table_checked` names them."""
    return read_table_checked(results_dir, name)[0]
