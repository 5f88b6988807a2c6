"""What every metric records next to its numbers: data checksums, the scoring setup and the tokenizer."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from debiasbench.api import DataLocatorProto, Dataset, ModelHandle


def data_checksums(dataset: Dataset, data: DataLocatorProto) -> dict[str, str]:
    """sha256 of each file the data set read, keyed by its path under the data folder."""
    return {file.relpath: data.checksum(file) for file in dataset.files}


def scoring_setup(handle: ModelHandle) -> dict[str, Any]:
    """Prefix token, dtype and scorer used for sentence scores (docs/concepts.md, "Sentence scoring")."""
    from debiasbench_metrics.scoring.pair_scorer import packing_supported

    return {
        "prefix_token_id": handle.prefix_token_id,
        "dtype": handle.dtype,
        "scorer": "shared-prefix tree packing" if packing_supported(handle) else "padded batches",
    }


def table(columns: dict[str, Any]) -> Any:
    """A pyarrow table of per-pair / per-example scores (``--save-examples``)."""
    import pyarrow as pa

    return pa.table({name: list(values) if not hasattr(values, "tolist") else values.tolist() for name, values in columns.items()})


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """Class and a hash of the vocabulary: perplexities compare only under one tokenizer, and a
    folder path (``name_or_path``) would differ between machines for the same tokenizer."""
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    digest = hashlib.sha256(json.dumps(vocab, ensure_ascii=False).encode()).hexdigest()[:12]
    return f"{type(tokenizer).__name__}:{len(vocab)}:{digest}"
