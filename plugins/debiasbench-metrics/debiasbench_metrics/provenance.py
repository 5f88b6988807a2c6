"""What every metric records next to its numbers: data checksums and the scoring setup."""

from __future__ import annotations

from typing import Any

from debiasbench.api import DataLocatorProto, Dataset, ModelHandle


def data_checksums(dataset: Dataset, data: DataLocatorProto) -> dict[str, str]:
    """sha256 of each file the data set read, keyed by its path under the data folder."""
    return {file.relpath: data.checksum(file) for file in dataset.files}


def scoring_setup(handle: ModelHandle) -> dict[str, Any]:
    """Prefix token, dtype and scorer used for sentence scores (docs/concepts.md, "Sentence scoring")."""
    from debiasbench_metrics.pair_scorer import packing_supported

    return {
        "prefix_token_id": handle.prefix_token_id,
        "dtype": handle.dtype,
        "scorer": "shared-prefix tree packing" if packing_supported(handle) else "padded batches",
    }


def table(columns: dict[str, Any]) -> Any:
    """A pyarrow table of per-pair / per-example scores (``--save-examples``)."""
    import pyarrow as pa

    return pa.table({name: list(values) if not hasattr(values, "tolist") else values.tolist() for name, values in columns.items()})
