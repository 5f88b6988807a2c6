"""Atomic writes: every file the toolkit writes appears whole or not at all.

Each writer creates a dot-prefixed temporary file (or folder) beside the target and renames it
into place, so a killed process leaves no half-written file and readers that skip dot-files
(``pyarrow.dataset``) never see one. Files get the permissions of an ordinary ``open`` (the
user's umask), not ``mkstemp``'s 0600, so a results folder shared by a group stays readable.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@contextmanager
def atomic_path(target: Path, suffix: str | None = None) -> Iterator[Path]:
    """A temporary path beside ``target``; renamed onto ``target`` when the block succeeds, removed otherwise."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".tmp-{target.name}-", suffix=suffix if suffix is not None else target.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(target: Path, replace: bool = False) -> Iterator[Path]:
    """A temporary folder beside ``target``, renamed onto it when the block succeeds (``target`` must
    not exist or be an empty folder, unless ``replace``: then a full ``target`` is renamed aside and
    removed only once the new folder is in place), removed otherwise."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        yield tmp
        old = None
        if target.is_dir() and not any(target.iterdir()):
            target.rmdir()
        elif replace and target.is_dir():
            old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-old-"))
            os.replace(target, old / target.name)
        try:
            os.replace(tmp, target)
        except BaseException:
            if old is not None:  # put the replaced folder back
                os.replace(old / target.name, target)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_text_atomic(target: Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def write_bytes_atomic(target: Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_table_atomic(table: pyarrow.Table, target: Path) -> Path:
    """Write an Arrow table as Parquet to ``target`` atomically."""
    import pyarrow.parquet as pq

    with atomic_path(target, suffix=".parquet") as tmp:
        pq.write_table(table, tmp)
    return Path(target)
