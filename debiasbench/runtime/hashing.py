"""sha256 of files and values (data checksums, model fingerprints, cache keys) and the stable JSON they hash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

_CHUNK = 1 << 22


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def dumps(value: Any) -> str:
    """Stable JSON for table cells and hashes (sorted keys; paths and other objects as strings)."""
    return json.dumps(value, sort_keys=True, default=str)


def sha256_json(value: Any, length: int | None = None) -> str:
    """Hex sha256 of ``value`` as stable JSON (sorted keys); ``length`` truncates the hex digest."""
    digest = hashlib.sha256(dumps(value).encode()).hexdigest()
    return digest[:length] if length else digest


def git_blob_sha1(path: Path) -> str:
    """The git blob id of a file's content (what ``git hash-object`` prints): a checksum for data
    whose source publishes only its git history."""
    import hashlib

    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())  # noqa: S324 - git's identity, not security
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
