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
