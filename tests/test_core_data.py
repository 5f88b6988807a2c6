"""The data locator: data dir, cache, fallback file, download (plain or a zip member), checksums."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from debiasbench.errors import DataError
from debiasbench.plugin_system.interfaces import DataFile
from debiasbench.data.locator import DataLocator


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_data_dir_wins_over_cache(tmp_path: Path) -> None:
    for root, text in ((tmp_path / "data", "from data"), (tmp_path / "cache" / "data", "from cache")):
        (root / "set").mkdir(parents=True)
        (root / "set" / "f.txt").write_text(text)
    locator = DataLocator(tmp_path / "data", tmp_path / "cache", download=False)
    file = DataFile("set/f.txt", sha256=sha("from data"))
    assert locator.path(file).read_text() == "from data"
    assert locator.checksum(file) == sha("from data")


def test_zip_member_is_downloaded_extracted_and_verified(tmp_path: Path) -> None:
    archive = tmp_path / "wikitext.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("wikitext-2-raw/wiki.test.raw", " = Title = \n")
        zipped.writestr("wikitext-2-raw/wiki.train.raw", "other")
    file = DataFile("wt/wiki.test.raw", sha256=sha(" = Title = \n"), url=archive.as_uri(), member="wikitext-2-raw/wiki.test.raw")
    locator = DataLocator(tmp_path / "empty", tmp_path / "cache")
    path = locator.path(file)
    assert path == tmp_path / "cache" / "data" / "wt" / "wiki.test.raw" and path.read_text() == " = Title = \n"
    assert [p.name for p in path.parent.iterdir()] == ["wiki.test.raw"]  # no temp file left behind


def test_missing_zip_member_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("other.txt", "x")
    file = DataFile("wt/wiki.test.raw", url=archive.as_uri(), member="wikitext-2-raw/wiki.test.raw")
    with pytest.raises(DataError, match=r"missing data file wt/wiki.test.raw: .*downloading wikitext-2-raw/wiki.test.raw from .*KeyError"):
        DataLocator(tmp_path / "empty", tmp_path / "cache").path(file)
    assert list((tmp_path / "cache" / "data" / "wt").iterdir()) == []


def test_fallback_is_used_when_the_file_is_nowhere_local(tmp_path: Path) -> None:
    (tmp_path / "data" / "set").mkdir(parents=True)
    (tmp_path / "data" / "set" / "canonical.json").write_text("{}")
    fallback = DataFile("set/canonical.json", sha256=sha("{}"))
    file = DataFile("set/flat.jsonl", sha256=sha("flat"), fallback=fallback)
    locator = DataLocator(tmp_path / "data", tmp_path / "cache", download=False)
    assert locator.path(file).name == "canonical.json"
    assert locator.checksum(file) == sha("{}")  # the file actually read is what gets recorded


def test_fallback_is_downloaded_and_checked_against_its_own_checksum(tmp_path: Path) -> None:
    source = tmp_path / "dev.json"
    source.write_text('{"data": {}}')
    fallback = DataFile("set/dev.json", sha256=sha("something else"), url=source.as_uri())
    file = DataFile("set/flat.jsonl", sha256=sha("flat"), fallback=fallback)
    with pytest.raises(DataError, match=r"checksum mismatch for .*dev.json"):
        DataLocator(tmp_path / "data", tmp_path / "cache").path(file)


def test_missing_file_names_the_file_and_the_variable(tmp_path: Path) -> None:
    file = DataFile("set/flat.jsonl", fallback=DataFile("set/dev.json"))
    with pytest.raises(DataError, match=r"^missing data file set/flat.jsonl: .*set DEBIASBENCH_DATA or --data-dir"):
        DataLocator(tmp_path / "data", tmp_path / "cache", download=False).path(file)


def test_a_file_known_only_by_its_git_blob_is_checked(tmp_path: Path) -> None:
    import subprocess

    from debiasbench.errors import DataError
    from debiasbench.plugin_system.interfaces import DataFile
    from debiasbench.data.locator import DataLocator
    from debiasbench.runtime.hashing import git_blob_sha1

    (tmp_path / "d").mkdir()
    path = tmp_path / "d" / "x.txt"
    path.write_text("hello\n")
    blob = git_blob_sha1(path)
    assert blob == "ce013625030ba8dba906f756967f9e9ca394464a"  # `git hash-object` of "hello\n"
    try:
        assert subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True).stdout.strip() == blob
    except FileNotFoundError:
        pass
    assert DataLocator(tmp_path, tmp_path / "cache", download=False).path(DataFile("d/x.txt", git_blob=blob)) == path
    with pytest.raises(DataError, match="git blob ce013625030b..., expected 000000000000"):
        DataLocator(tmp_path, tmp_path / "cache", download=False).path(DataFile("d/x.txt", git_blob="0" * 40))
