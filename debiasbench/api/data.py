"""``debiasbench.api.data``: reading data and keeping to the core's data rules (promised with
:data:`debiasbench.api.API_VERSION`).

The data locator (data folder, then cache, then source URL, checksum-checked), the row reader of
CSV / JSON / JSON-lines files with one-line errors, checksums, the toolkit cache, the domain
vocabulary, and the dev/test split of evaluation items that a method training on benchmark items
must stay off (``RunFacts.heldout_seed`` and ``dev_fraction``).
"""

from __future__ import annotations

from debiasbench.statistics.paired import split_of
from debiasbench.domains import STUDY_DOMAINS, check_domain
from debiasbench.data.locator import DataLocator
from debiasbench.runtime.hashing import sha256_file
from debiasbench.runtime.paths import cache_dir
from debiasbench.data.rows import RowFile, load_rows

__all__ = [
    "DataLocator", "load_rows", "RowFile", "sha256_file", "cache_dir",
    "STUDY_DOMAINS", "check_domain", "split_of",
]
