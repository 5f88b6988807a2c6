"""Stable identities of weights: sha256 of files, remembered by path + size + mtime.

Hashing a few hundred MB takes seconds, so each file's digest is stored in the toolkit cache
(``<cache>/hashes/``) and recomputed only when the file changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

from debiasbench.api.data import sha256_file

WEIGHT_PATTERNS = ("*.safetensors", "model.safetensors.index.json")
CONFIG_FILES = ("config.json",)
TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "vocab.json", "vocab.txt", "merges.txt", "tokenizer.model", "spiece.model",
)


def file_sha256(path: Path, cache_root: Path) -> str:
    """sha256 of ``path``'s content, cached under ``cache_root/hashes`` keyed by path, size and mtime."""
    real = path.resolve()
    stat = real.stat()
    key = hashlib.sha256(str(real).encode()).hexdigest()[:32]
    record_path = cache_root / "hashes" / f"{key}.json"
    stamp = {"path": str(real), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    try:
        record = json.loads(record_path.read_text())
        if {k: record.get(k) for k in stamp} == stamp and isinstance(record.get("sha256"), str):
            return record["sha256"]
    except (OSError, ValueError):
        pass
    digest = sha256_file(real)
    _write_record(record_path, json.dumps({**stamp, "sha256": digest}))
    return digest


def _write_record(path: Path, text: str) -> None:
    """Written atomically, so concurrent runs never read half a record."""
    tmp = path.with_name(f".{path.name}-{uuid.uuid4().hex[:12]}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)  # a read-only cache only costs a re-hash next time


def model_files(directory: Path) -> list[Path]:
    """The files that decide a folder model's outputs: weights, config and tokenizer."""
    found: set[Path] = set()
    for pattern in WEIGHT_PATTERNS:
        found.update(p for p in directory.glob(pattern) if p.is_file())
    for name in (*CONFIG_FILES, *TOKENIZER_FILES):
        if (directory / name).is_file():
            found.add(directory / name)
    return sorted(found, key=lambda p: p.name)


def directory_fingerprint(directory: Path, cache_root: Path) -> str:
    """sha256 over (file name, file sha256) of :func:`model_files`: equal only for the same weights and tokenizer."""
    digest = hashlib.sha256()
    for path in model_files(directory):
        digest.update(f"{path.name}\0{file_sha256(path, cache_root)}\n".encode())
    return digest.hexdigest()
