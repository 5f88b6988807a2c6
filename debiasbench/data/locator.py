"""Locate data files (data dir, then cache, then source URL) and verify their checksums."""

from __future__ import annotations

import os
import urllib.request
import zipfile
from pathlib import Path

from debiasbench.errors import DataError
from debiasbench.plugin_system.interfaces import DataFile
from debiasbench.runtime.atomic import atomic_path
from debiasbench.runtime.hashing import git_blob_sha1, sha256_file
from debiasbench.runtime.paths import cache_dir as default_cache_dir
from debiasbench.runtime.paths import data_dir as default_data_dir


class DataLocator:
    """Finds :class:`DataFile` s for data-set plugins and checks each file once per process."""

    def __init__(self, data_dir: Path | str | None = None, cache_dir: Path | str | None = None, download: bool = True) -> None:
        self.data_dir = default_data_dir(data_dir)
        self.cache_dir = default_cache_dir(cache_dir) / "data"
        self.download = download and os.environ.get("DEBIASBENCH_OFFLINE", "") in ("", "0")
        self._checked: dict[str, tuple[Path, str]] = {}

    def path(self, file: DataFile) -> Path:
        """The verified local path of ``file``; raises DataError with one actionable line.

        Order: the data dir, the cache, then the file's fallback in both places, then the
        download (the file's own url, else its fallback's). A fallback is checked against its
        own sha256; the checksum recorded is always that of the file actually read.
        """
        if file.relpath in self._checked:
            return self._checked[file.relpath][0]
        used, found = file, self._local(file)
        if found is None and file.fallback is not None:
            used, found = file.fallback, self._local(file.fallback)
        if found is None:
            used = file if file.url or file.fallback is None else file.fallback
            found = self._fetch(used, wanted=file)
        digest = sha256_file(found)
        if used.sha256 and digest != used.sha256:
            raise DataError(
                f"checksum mismatch for {found}: sha256 {digest[:12]}..., expected {used.sha256[:12]}...; "
                "replace the file with the original release"
            )
        if not used.sha256 and used.git_blob:
            blob = git_blob_sha1(found)
            if blob != used.git_blob:
                raise DataError(f"checksum mismatch for {found}: git blob {blob[:12]}..., expected {used.git_blob[:12]}...; "
                                "replace the file with the original release")
        self._checked[file.relpath] = (found, digest)
        return found

    def missing(self, file: DataFile) -> str | None:
        """Why ``file`` cannot be had (not in the data dir or cache, and no download allowed or
        possible), checked without reading it; None when it can. Planning asks this so a missing
        file fails before the model loads, not after."""
        local = self._local(file) or (self._local(file.fallback) if file.fallback is not None else None)
        if local is not None:
            return None
        url = file.url or (file.fallback.url if file.fallback is not None else None)
        if url and self.download:
            return None
        where = f"{self.data_dir} (--data-dir / DEBIASBENCH_DATA) nor " if self.data_dir else ""
        why = "downloads are off (DEBIASBENCH_OFFLINE)" if url else "it has no download source"
        return f"data file {file.relpath} is in neither {where}the cache {self.cache_dir}, and {why}"

    def _local(self, file: DataFile) -> Path | None:
        candidates = [] if self.data_dir is None else [self.data_dir / file.relpath]
        candidates.append(self.cache_dir / file.relpath)
        return next((p for p in candidates if p.is_file()), None)

    def checksum(self, file: DataFile) -> str:
        """sha256 of the file actually used (recorded with every result)."""
        self.path(file)
        return self._checked[file.relpath][1]

    def _fetch(self, file: DataFile, wanted: DataFile) -> Path:
        """Download ``file`` (or extract it from the zip archive at its url) into the cache, atomically."""
        where = f"DEBIASBENCH_DATA ({self.data_dir})" if self.data_dir else "DEBIASBENCH_DATA (unset)"
        if not file.url or not self.download:
            raise DataError(
                f"missing data file {wanted.relpath}: not found under {where} or the cache {self.cache_dir}; "
                "set DEBIASBENCH_DATA or --data-dir to the folder that holds it"
            )
        target = self.cache_dir / file.relpath
        try:
            with atomic_path(target) as tmp:
                with open(tmp, "wb") as out, urllib.request.urlopen(file.url, timeout=30) as response:  # noqa: S310
                    while chunk := response.read(1 << 20):
                        out.write(chunk)
                if file.member is not None:
                    _extract_member(tmp, file.member)
        except (OSError, zipfile.BadZipFile, KeyError) as exc:
            what = f"{file.member} from {file.url}" if file.member else file.url
            raise DataError(
                f"missing data file {wanted.relpath}: not under {where} or the cache, and downloading "
                f"{what} failed ({exc.__class__.__name__}); set DEBIASBENCH_DATA or --data-dir"
            ) from None
        return target


def _extract_member(archive: Path, member: str) -> None:
    """Replace the downloaded zip ``archive`` by its ``member`` (KeyError when the archive lacks it)."""
    with zipfile.ZipFile(archive) as zipped:
        content = zipped.read(member)
    archive.write_bytes(content)
