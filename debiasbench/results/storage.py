"""Where result tables live: a local folder or an object store, reached through ``pyarrow.fs``.

A results directory is a local path (``results``, ``/scratch/results``) or a URI that
:meth:`pyarrow.fs.FileSystem.from_uri` resolves: ``s3://BUCKET/PREFIX``, ``gs://BUCKET/PREFIX``,
``file:///abs/path``; an S3-compatible server is named in the query
(``s3://BUCKET/PREFIX?endpoint_override=HOST:PORT&scheme=http``). Every reader and writer of
results goes through :class:`ResultsStore`, so the workers of a cluster without a shared filesystem
write into one bucket and the driver resumes, compares and checks from it.

Atomicity: a local file is written beside its target and renamed (:mod:`debiasbench.runtime.atomic`);
an object is serialised in memory and uploaded under its final key in one upload, which an object
store shows whole or not at all (an unfinished multipart upload is no object). Either way a killed
writer leaves no half-written file, and a run's runs row, written last, is what marks it complete.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import uuid
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, Union

from debiasbench.errors import DebiasbenchError

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow
    import pyarrow.fs

ResultsLocation = Union[str, "os.PathLike[str]"]
"""A results directory as the user gave it: a local path, or a URI (kept a string: ``Path`` would
fold ``s3://`` into ``s3:/``)."""

T = TypeVar("T")
READ_THREADS = 16  # concurrent reads of one object store: enough to hide round trips, few enough for any endpoint
_URI = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
HINT = ("pass a local folder or a URI such as s3://BUCKET/PREFIX or gs://BUCKET/PREFIX "
        "(see docs/scale-storage.md)")


def is_uri(location: ResultsLocation) -> bool:
    """True for ``scheme://...``; a local path (``Path`` or plain string) is not a URI."""
    return isinstance(location, str) and _URI.match(location) is not None


def join(location: ResultsLocation, *keys: str) -> ResultsLocation:
    """The location of ``keys`` under ``location`` (a URI's query stays at its end)."""
    if not is_uri(location):
        return Path(location).joinpath(*keys)
    head, sep, query = str(location).partition("?")
    return "/".join([head.rstrip("/"), *keys]) + sep + query


def split(location: ResultsLocation) -> tuple[ResultsLocation, str]:
    """(parent location, last name): ``s3://b/r/runs/x.parquet`` -> (``s3://b/r/runs``, ``x.parquet``)."""
    if not is_uri(location):
        path = Path(location)
        return path.parent, path.name
    head, sep, query = str(location).partition("?")
    scheme = _URI.match(head).group(0)  # type: ignore[union-attr]
    parts = head[len(scheme):].rstrip("/").rsplit("/", 1)
    if len(parts) == 1:  # the bucket itself has no parent
        return location, ""
    return scheme + parts[0] + sep + query, parts[1]


_AWS_ERROR = re.compile(r"AWS Error (?P<code>\w+) during \w+ operation: (?P<message>.*?)(?: \(Request ID:.*|; Details:.*)?$")


def short_reason(exc: BaseException) -> str:
    """The part of a library error a user acts on, whole and on one line: of an AWS SDK error only
    its code and message (``NO_SUCH_BUCKET: The specified bucket does not exist``), of anything else
    every line joined (never cut mid-word: the cut part is often the cause)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    aws = _AWS_ERROR.search(lines[0])
    if aws:
        return f"{aws.group('code')}: {aws.group('message')}"
    text = " ".join(lines)
    if text.startswith("google::cloud::Status("):  # the message whole; the client's retry metadata after it dropped
        text = text.removeprefix("google::cloud::Status(").split(" error_info={", 1)[0]
    return text


def bounded(call: Callable[[], T], seconds: float, what: str) -> T:
    """``call()``, or one line once ``seconds`` have passed without an answer (a Google Cloud client
    looking for credentials can wait far past its retry limit). The call goes on in a daemon thread,
    which the exiting process does not wait for."""
    import threading

    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True, name="debiasbench-bounded")
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise DebiasbenchError(f"{what}: no answer within {seconds:g} s; check the network, the endpoint and the credentials "
                               "(see docs/scale-storage.md)")
    if "error" in box:
        raise box["error"]
    return box["value"]


@functools.lru_cache(maxsize=32)
def _remote(uri: str) -> tuple[pyarrow.fs.FileSystem, str]:
    """(file system, base path) of a URI, opened once per process (opening may ask for a bucket's region)."""
    import pyarrow as pa
    import pyarrow.fs as pafs

    scheme = _URI.match(uri).group(1).lower()  # type: ignore[union-attr]
    try:
        target = _with_short_retries(uri, scheme)
        if scheme in ("gs", "gcs"):
            filesystem, base = bounded(lambda: pafs.FileSystem.from_uri(target), _gcs_limit(target),
                                       f"cannot reach results dir {_public(uri)}")
        else:
            filesystem, base = pafs.FileSystem.from_uri(target)
    except pa.ArrowInvalid as exc:
        if "Unrecognized filesystem type" in str(exc):
            raise DebiasbenchError(f"results dir {_public(uri)}: unknown scheme {scheme + '://'!r}; {HINT}") from None
        raise DebiasbenchError(f"results dir {_public(uri)} is not a valid URI ({short_reason(exc)}); {HINT}") from None
    except (OSError, pa.ArrowException) as exc:
        raise DebiasbenchError(f"cannot reach results dir {_public(uri)} ({short_reason(exc)}); check the endpoint, "
                               "the network and the credentials (see docs/scale-storage.md)") from None
    return filesystem, base.rstrip("/")


GCS_RETRY_LIMIT_S = 10
"""How long a ``gs://`` store may take before a failure is reported, unless the URI sets
``retry_limit_seconds`` (Google's client default is 15 minutes: an unreachable endpoint or missing
credentials would hang the up-front check that long). The client is given half of it to retry in,
so it reports its own reason (and runs over its limit by a second or more); the whole call is cut
at the limit whatever it does. S3 keeps the AWS SDK's 3 attempts."""


def _gcs_limit(uri: str) -> float:
    """The wall-clock limit of a ``gs://`` call: twice the client's retry limit the URI carries."""
    match = re.search(r"retry_limit_seconds=([0-9.]+)", uri.partition("?")[2])
    return 2 * float(match.group(1)) if match else float(GCS_RETRY_LIMIT_S)


def _with_short_retries(uri: str, scheme: str) -> str:
    if scheme not in ("gs", "gcs") or "retry_limit_seconds=" in uri.partition("?")[2]:
        return uri
    return f"{uri}{'&' if '?' in uri else '?'}retry_limit_seconds={GCS_RETRY_LIMIT_S / 2:g}"


def describe(location: ResultsLocation) -> str:
    """A results directory for messages: a local path as given, a URI without its query and credentials."""
    return _public(location) if is_uri(location) else str(location)  # type: ignore[arg-type]


def _public(uri: str) -> str:
    """A URI for messages: no query (endpoints, options) and no ``user:secret@``."""
    head = uri.partition("?")[0]
    match = _URI.match(head)
    rest = head[match.end():] if match else head
    if "@" in rest.split("/", 1)[0]:
        rest = rest.split("@", 1)[1]
    return (match.group(0) if match else "") + rest


@dataclass(frozen=True)
class ResultsStore:
    """One results directory: keys (``runs/RUN.parquet``) read, listed and written atomically.

    ``base`` is the directory's path inside ``filesystem``; ``local`` stores write with a temporary
    file and a rename, the others with one upload per object.
    """

    location: ResultsLocation
    filesystem: pyarrow.fs.FileSystem
    base: str
    local: bool

    # ------------------------------------------------------------------ names

    def path(self, key: str = "") -> str:
        """``key``'s path inside the file system."""
        return f"{self.base}/{key}" if key else self.base

    def where(self, key: str = "") -> ResultsLocation:
        """``key`` as the user would name it: a ``Path`` under a local folder, else ``scheme://bucket/prefix/key``."""
        if self.local:
            return Path(self.location).joinpath(key) if key else Path(self.location)
        public = _public(str(self.location)).rstrip("/")
        return f"{public}/{key}" if key else public

    def __str__(self) -> str:
        return str(self.where())

    # ------------------------------------------------------------------ reading

    def _info(self, key: str) -> pyarrow.fs.FileInfo:
        try:
            return self.filesystem.get_file_info(self.path(key))
        except OSError as exc:
            raise DebiasbenchError(f"cannot read results dir {self} ({short_reason(exc)}); check the endpoint, the network "
                                   "and the credentials") from None

    def exists(self) -> bool:
        """The directory exists (for an object store: some object lies under the prefix, or it is a bucket)."""
        import pyarrow.fs as pafs

        return bool(self._info("").type == pafs.FileType.Directory)

    def is_file(self, key: str = "") -> bool:
        import pyarrow.fs as pafs

        return bool(self._info(key).type == pafs.FileType.File)

    def size(self, key: str) -> int:
        return int(self._info(key).size or 0)

    def list(self, folder: str, suffix: str = ".parquet") -> list[str]:
        """Keys of the files ``folder/*suffix`` in name order; dot-files (temporaries, probes) left out."""
        import pyarrow.fs as pafs

        selector = pafs.FileSelector(self.path(folder), allow_not_found=True)
        try:
            infos = self.filesystem.get_file_info(selector)
        except OSError as exc:
            raise DebiasbenchError(f"cannot list {self.where(folder)} ({short_reason(exc)}); check the endpoint, the network "
                                   "and the credentials") from None
        names = [i.base_name for i in infos if i.type == pafs.FileType.File]
        return [f"{folder}/{n}" for n in sorted(names) if n.endswith(suffix) and not n.startswith(".")]

    def read_bytes(self, key: str) -> bytes:
        """The whole file, in one request on an object store. Raises OSError."""
        with self.filesystem.open_input_stream(self.path(key), compression=None) as stream:
            return bytes(stream.read())

    def read_table(self, key: str) -> pyarrow.Table:
        """One Parquet file, every page read (so a damaged page is found here); a damaged file is one
        line naming it (never an Arrow traceback from deep inside a comparison or a report)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        data = self.read_bytes(key)
        try:
            return pq.read_table(pa.BufferReader(data))
        except (OSError, pa.ArrowException) as exc:
            what = "empty (zero bytes)" if not data else f"not a readable Parquet file ({short_reason(exc)})"
            raise DebiasbenchError(f"{self.where(key)} is {what}; `debiasbench check {shlex.quote(str(self))}` lists the damage: move the file "
                                   "away or rerun its run") from None

    def map(self, function: Callable[[str], T], keys: list[str]) -> list[T]:
        """``function`` over ``keys`` in order; on an object store in parallel threads, since each read
        is a network round trip (pyarrow releases the GIL while it waits)."""
        if self.local or len(keys) < 2:
            return [function(key) for key in keys]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(READ_THREADS, len(keys))) as pool:
            return list(pool.map(function, keys))

    # ------------------------------------------------------------------ writing

    def write_table(self, table: pyarrow.Table, key: str) -> ResultsLocation:
        """Write ``table`` as Parquet under ``key``, whole or not at all. Raises OSError when the store refuses."""
        if self.local:
            from debiasbench.runtime.atomic import write_table_atomic

            return write_table_atomic(table, Path(self.location) / key)
        import pyarrow as pa
        import pyarrow.parquet as pq

        buffer = pa.BufferOutputStream()
        pq.write_table(table, buffer)
        return self.write_bytes(buffer.getvalue().to_pybytes(), key)

    def write_bytes(self, data: bytes, key: str) -> ResultsLocation:
        """Write ``data`` under ``key``: a rename locally, one upload of the whole object on a store."""
        if self.local:
            from debiasbench.runtime.atomic import write_bytes_atomic

            return write_bytes_atomic(Path(self.location) / key, data)
        # One write of the whole buffer, then close: the store completes the upload and the object
        # appears under its final key only then. A process killed before that leaves no object.
        with self.filesystem.open_output_stream(self.path(key)) as stream:
            stream.write(data)
        return self.where(key)

    def delete(self, key: str) -> None:
        self.filesystem.delete_file(self.path(key))

    def check_writable(self) -> None:
        """Fail in one line, before any work, when results cannot be written here.

        A local folder is checked without writing (see :func:`debiasbench.results.local_dir.check_local_results_dir`);
        an object store is probed: a small marker object written and deleted under the prefix, once
        per process and location.
        """
        if self.local:
            from debiasbench.results.local_dir import check_local_results_dir

            check_local_results_dir(Path(self.location))
            return
        _probe(str(self.location), self)


_PROBED: set[str] = set()  # locations a probe wrote to in this process


def _probe(location: str, store: ResultsStore) -> None:
    if location in _PROBED:
        return
    key = f".debiasbench-write-probe-{uuid.uuid4().hex}"
    try:
        if location.startswith(("gs://", "gcs://")):  # bounded by the documented limit, whatever the client does
            bounded(lambda: store.write_bytes(b"debiasbench write probe\n", key), _gcs_limit(location),
                    f"cannot write to results dir {store}")
        else:
            store.write_bytes(b"debiasbench write probe\n", key)
    except (OSError, ValueError) as exc:
        raise DebiasbenchError(f"cannot write to results dir {store} ({short_reason(exc)}); check that the bucket exists, "
                               "that these credentials may write to it, and the endpoint (see docs/scale-storage.md)") from None
    try:
        store.delete(key)
    except OSError:
        pass  # write-only credentials: runs can still write; the dot-named marker is skipped by every reader
    _PROBED.add(location)


def open_store(location: ResultsLocation | ResultsStore) -> ResultsStore:
    """The store of a results directory (a store is returned as is). One line on an unknown scheme,
    a malformed URI or an endpoint that cannot be reached."""
    import pyarrow.fs as pafs

    if isinstance(location, ResultsStore):
        return location
    if not is_uri(location):
        path = Path(location)
        return ResultsStore(path, pafs.LocalFileSystem(), str(path.absolute()), local=True)
    filesystem, base = _remote(str(location))
    if isinstance(filesystem, pafs.LocalFileSystem):  # file:///abs/path: a local folder, written with rename
        return ResultsStore(Path(base), filesystem, base, local=True)
    return ResultsStore(str(location), filesystem, base, local=False)


def results_location(value: ResultsLocation) -> ResultsLocation:
    """A ``--results-dir`` / ``results_dir`` value as the configuration keeps it: a URI as the
    string it is, a local path as a ``Path``."""
    return str(value) if is_uri(value) else Path(value)
