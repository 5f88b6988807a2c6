"""Where the toolkit reads data and keeps its cache."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(override: Path | str | None = None) -> Path:
    """``DEBIASBENCH_CACHE``, else ``$XDG_CACHE_HOME/debiasbench``, else ``~/.cache/debiasbench``."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("DEBIASBENCH_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "debiasbench"


def data_dir(override: Path | str | None = None) -> Path | None:
    """``--data-dir``, else ``DEBIASBENCH_DATA``, else None (cache, then download)."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("DEBIASBENCH_DATA")
    return Path(env).expanduser() if env else None


def check_resolves(path: Path, what: str) -> None:
    """Refuse, in one line and before any work, a path that can never be written: a component that
    is a symbolic-link loop, or a link whose target is gone (a deleted folder, an unmounted disk).
    Without this the whole run happens and the final write fails ("Too many levels of symbolic
    links", "File exists")."""
    import errno

    from debiasbench.errors import DebiasbenchError

    current = Path(path)
    for candidate in (current, *current.parents):
        if not candidate.is_symlink():
            continue
        try:
            os.stat(candidate)
        except OSError as exc:
            target = os.readlink(candidate)
            if exc.errno == errno.ELOOP:
                raise DebiasbenchError(f"{what} {path}: {candidate} is a symbolic-link loop (it points to {target}); "
                                       "replace the link or choose another folder") from None
            raise DebiasbenchError(f"{what} {path}: {candidate} is a link to {target}, which does not exist "
                                   "(deleted or not mounted); mount or create it, or choose another folder") from None


def shell_quote(value: object) -> str:
    """``value`` as one shell word, so a printed command can be pasted even when a path holds a space."""
    import shlex

    return shlex.quote(str(value))


def write_refused(folder: Path) -> str | None:
    """Why ``folder`` (an existing folder) refuses a new file, found by creating and removing an
    empty dot-file in it; None when it takes one. ``os.access`` is not enough: it says yes to root
    in a read-only or immutable folder, where the write at the end of a study would then fail."""
    import tempfile

    try:
        handle, name = tempfile.mkstemp(prefix=".debiasbench-probe-", dir=folder)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(handle)
    os.unlink(name)
    return None
