"""Data sets: files located and checksum-checked by the core, forget sets and benchmark data."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from debiasbench.plugin_system.interfaces.common import Named


@dataclass(frozen=True)
class DataFile:
    """A file a data set reads: where it lives under the data directory, its checksum, its origin."""

    relpath: str  # relative to the data dir, e.g. "crows_pairs/crows_pairs_anonymized.csv"
    sha256: str | None = None  # expected checksum; None = not checked
    url: str | None = None  # download source when neither data dir nor cache has it
    member: str | None = None  # when ``url`` is a zip archive: the path of this file inside it
    fallback: DataFile | None = None  # another file (e.g. another layout) used when this one is nowhere local and has no url
    git_blob: str | None = None  # expected git blob id (sha1 of "blob <size>\0" + content), for sources that publish only that


class DataLocatorProto(Protocol):
    """Finds data files: the data dir (``--data-dir`` / ``DEBIASBENCH_DATA``), else the cache,
    else the source URL. Verifies the sha256 and raises ``DataError`` with one line."""

    def path(self, file: DataFile) -> Path: ...

    def checksum(self, file: DataFile) -> str: ...


class Dataset(Named, ABC):
    """A data set plugin. ``role`` says what it is for; ``files`` are located by the core."""

    role: ClassVar[Literal["forget", "eval"]]
    files: ClassVar[tuple[DataFile, ...]] = ()
    license: ClassVar[str] = ""
    citation: ClassVar[str] = ""
    hub_id: ClassVar[str] = ""  # the data set's Hugging Face Hub id, where it has one (a saved model's card lists it)
    notice: ClassVar[str] = ""  # what the data set's authors ask of anyone who publishes its figures (repeated in model cards)


class EvalDataset(Dataset):
    """Benchmark data (CrowS-Pairs, StereoSet, WikiText-2). Metrics look it up by name."""

    role: ClassVar[Literal["forget", "eval"]] = "eval"

    @abstractmethod
    def load(self, data: DataLocatorProto) -> Any:
        """Return the parsed records (a list of dataclasses, a string, ...)."""


@dataclass(frozen=True)
class ForgetText:
    """One hateful text to unlearn. ``spans`` are character spans marked harmful by the data set
    (HateCheck ``focus_words``); ``None`` when the data set has no annotation."""

    text: str
    domain: str  # canonical domain, e.g. "gender"
    group: str  # the targeted group as the data set names it, e.g. "women"
    spans: tuple[tuple[int, int], ...] | None = None
    source: str = ""  # data set name


class ForgetSet(Dataset):
    """Hate speech aimed at groups, by domain, plus neutral retain text about the same groups."""

    role: ClassVar[Literal["forget", "eval"]] = "forget"
    splits: ClassVar[tuple[str, ...]] = ()  # the values ``--split`` may take (checked at plan time); () = no splits

    @abstractmethod
    def domains(self) -> tuple[str, ...]:
        """Domains this set has texts for."""

    @abstractmethod
    def load_forget(self, data: DataLocatorProto, domain: str, split: str | None = None) -> list[ForgetText]:
        """Hateful texts for ``domain`` (all splits when ``split`` is None)."""

    def load_retain(self, data: DataLocatorProto, domain: str) -> list[str]:
        """Neutral texts about the same groups (never evaluation text); empty when none."""
        return []
