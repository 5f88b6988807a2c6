"""WikiText-2 raw, test split (Merity et al. 2016): the text of ``wiki.test.raw`` exactly as in the file.

Read as bytes and decoded strictly, so no newline translation or normalisation changes the text
(docs/concepts.md, "WikiText-2 perplexity": the Hugging Face rows joined with "\\n\\n" are a different text).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from debiasbench.api import DataError, DataFile, DataLocatorProto, EvalDataset

ARCHIVE_SOURCE = "https://wikitext.smerity.com/wikitext-2-raw-v1.zip"
"""The canonical archive (its old S3 address is gone); ``wiki.test.raw`` is extracted from it."""

WIKITEXT_FILE = DataFile(
    relpath="wikitext2/wikitext-2-raw/wiki.test.raw",
    sha256="173c87a53759e0201f33e0ccf978e510c2042d7f2cb78229d9a50d79b9e7dd08",
    url=ARCHIVE_SOURCE,
    member="wikitext-2-raw/wiki.test.raw",
)


def read_wikitext(path: Path) -> str:
    """The file's text, byte for byte; DataError names the line of a byte that is not UTF-8."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataError(f"{path}: line {line}: byte {exc.start} is not UTF-8; expected the raw WikiText-2 test text") from None
    if not text.strip():
        raise DataError(f"{path}: empty file; expected the raw WikiText-2 test text (4,358 lines)")
    return text


class WikiText2Dataset(EvalDataset):
    """WikiText-2 raw test text, for perplexity."""

    name: ClassVar[str] = "wikitext2"
    aliases: ClassVar[tuple[str, ...]] = ("wikitext-2",)
    description: ClassVar[str] = "WikiText-2 raw test split (wiki.test.raw, 4,358 lines), for perplexity"
    files: ClassVar[tuple[DataFile, ...]] = (WIKITEXT_FILE,)
    license: ClassVar[str] = "CC BY-SA 3.0"
    hub_id: ClassVar[str] = "Salesforce/wikitext"  # its config wikitext-2-raw-v1
    citation: ClassVar[str] = (
        "Merity, Xiong, Bradbury, Socher. Pointer Sentinel Mixture Models. 2016. "
        f"File wikitext-2-raw/wiki.test.raw of {ARCHIVE_SOURCE}"
    )

    def load(self, data: DataLocatorProto) -> str:
        return read_wikitext(data.path(WIKITEXT_FILE))
