"""The text the debiasing methods learn from: WikiText-2 validation sentences by default.

bias-bench used a Wikipedia dump (``wikipedia-2.5.txt`` / ``wikipedia-10.txt``) that is not
redistributed; the WikiText-2 *validation* text is the nearest offline stand-in here. Never the
test text: perplexity is measured on it. The word-level file marks rare words ``<unk>``; those
sentences are kept (dropping them would leave a third of the text).
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import TypeVar

from debiasbench.api import DataFile, DataLocatorProto, DebiasbenchError

WIKITEXT_VALID = DataFile(
    relpath="wikitext2/wikitext-2-tokenized-unk/valid.txt",
    sha256="f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8",
    url="https://raw.githubusercontent.com/pytorch/examples/77f55b912142e11fcfdf5b530231fb9c52f181e8/word_language_model/data/wikitext-2/valid.txt",
)
MIN_WORDS = 5
"""Shorter sentences are skipped (bias-bench's INLP data skips sentences of fewer than 5 tokens)."""

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
T = TypeVar("T")


def check_corpus_option(corpus: str) -> None:
    """Run in the options' ``__post_init__`` (planning): an explicit corpus must be a readable file."""
    if corpus and not Path(corpus).expanduser().is_file():
        raise ValueError(f"corpus {corpus!r} is not a file; give a UTF-8 text file, or leave corpus empty for "
                         f"the data folder's {WIKITEXT_VALID.relpath}")


def corpus_path(data: DataLocatorProto, corpus: str) -> Path:
    """The explicit corpus file, else the WikiText-2 validation text located through ``data``."""
    if not corpus:
        return data.path(WIKITEXT_VALID)
    path = Path(corpus).expanduser()
    if not path.is_file():
        raise DebiasbenchError(f"corpus {corpus!r} is not a file")
    return path


def read_sentences(path: Path) -> list[str]:
    """Sentences of a text file: one paragraph per line, WikiText headings (``= Title =``) and
    sentences under :data:`MIN_WORDS` words skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DebiasbenchError(f"cannot read corpus {path}: {exc.__class__.__name__}: {exc}") from None
    sentences = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("="):
            continue
        sentences.extend(s.strip() for s in _SENTENCE_END.split(line) if len(s.split()) >= MIN_WORDS)
    if not sentences:
        raise DebiasbenchError(f"corpus {path} has no sentence of {MIN_WORDS} or more words")
    return sentences


def seeded_sample(items: list[T], limit: int | None, seed: int) -> list[T]:
    """At most ``limit`` items, a seeded sample in corpus order (all when ``limit`` is None)."""
    if limit is None or len(items) <= limit:
        return list(items)
    keep = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in keep]
