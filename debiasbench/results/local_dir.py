"""Whether a local results folder can take a run's tables, checked before any work and without writing.

Its own module because both the store (:mod:`~debiasbench.results.storage`) and the table readers and
writers (:mod:`~debiasbench.results.tables`) need it, and neither may import the other back."""

from __future__ import annotations

from pathlib import Path

from debiasbench.errors import DebiasbenchError

def check_local_results_dir(path: Path) -> Path:
    """Fail in one line when the local folder ``path`` cannot take the run's tables; creates nothing
    (the tables' atomic writers create the folders), so a refused run leaves no empty folder."""
    import os

    from debiasbench.results.schemas import TABLES
    from debiasbench.runtime.paths import check_resolves, write_refused

    check_resolves(path, "results dir")  # a link loop or a dangling link would fail only at the final write
    if path.exists() and not path.is_dir():
        raise DebiasbenchError(f"results dir {path} is a file, not a folder; pass --results-dir to a folder")
    if path.is_dir():
        for name in TABLES:
            entry = path / name
            check_resolves(entry, "results dir")
            if entry.exists() and not entry.is_dir():
                raise DebiasbenchError(f"results dir {path}: {entry} is a file where the {name!r} table folder belongs; "
                                       "move it away or pass another --results-dir")
            if entry.is_dir() and (not os.access(entry, os.W_OK | os.X_OK) or write_refused(entry)):
                raise DebiasbenchError(f"results dir {path}: {entry} is not writable; fix its permissions or pass another --results-dir")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK) or write_refused(existing):
        raise DebiasbenchError(f"cannot create results dir {path}: {existing} is not a writable folder; "
                               "pass --results-dir to a writable folder")
    return path
