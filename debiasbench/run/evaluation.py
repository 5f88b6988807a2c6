"""Evaluate metrics on a model, reusing cached baselines for unchanged model + metric + data + protocol.

Under ``accelerate launch`` every process evaluates (the metrics split their batches among the
processes); the main process alone reads and writes the baseline cache.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from debiasbench.run.metric_rows import with_core_rows
from debiasbench.run.plan import PlannedMetric
from debiasbench.plugin_system.interfaces import (
    EvalContext,
    Metric,
    MetricResult,
    MetricRow,
    ModelHandle,
)
from debiasbench.runtime.atomic import write_table_atomic
from debiasbench.runtime.distributed import broadcast, ranks
from debiasbench.runtime.hashing import dumps, sha256_json

_ROW_SCHEMA = pa.schema(
    [
        ("domain", pa.string()),
        ("measure", pa.string()),
        ("value", pa.float64()),
        ("n", pa.int64()),
        ("ci_low", pa.float64()),
        ("ci_high", pa.float64()),
    ]
)


@dataclass
class Evaluated:
    """One metric's result and where it came from."""

    metric: Metric
    provider: str
    options: Any
    result: MetricResult
    cached: bool
    seconds: float


def dataset_checksums(metric: Metric, ctx: EvalContext) -> dict[str, str]:
    """sha256 of every file of every data set the metric declares (keys the cache)."""
    sums: dict[str, str] = {}
    for name in metric.datasets:
        dataset = ctx.registry.dataset(name)
        for file in dataset.files:
            sums[file.relpath] = ctx.data.checksum(file)
    return sums


def cache_key(model: ModelHandle, metric: Metric, provider_version: str, ctx: EvalContext, options: Any, sums: dict[str, str]) -> str:
    """Hash of everything that decides a metric's numbers on a model."""
    payload = {
        "model": model.fingerprint,
        "dtype": model.dtype,
        "device": model.device.split(":")[0],
        "metric": metric.name,
        "plugin": provider_version,
        "protocol": metric.protocol_key(ctx, options),
        "data": sums,
        "save_examples": ctx.save_examples,
        "libraries": library_versions(),  # a new torch or transformers may change the numbers
    }
    return sha256_json(payload, 32)


def library_versions() -> dict[str, str]:
    """Versions of the libraries that compute the numbers (part of the baseline cache key)."""
    import importlib.metadata as md

    out = {}
    for lib in ("torch", "transformers"):
        try:
            out[lib] = md.version(lib)
        except md.PackageNotFoundError:
            out[lib] = "absent"
    return out


def _store(path: Path, result: MetricResult) -> None:
    rows = [dataclasses.asdict(r) for r in result.rows]
    table = pa.Table.from_pylist(rows, schema=_ROW_SCHEMA)
    meta = {"protocol": dumps(result.protocol), "checksums": dumps(result.data_checksums), "notes": dumps(result.notes)}
    write_table_atomic(table.replace_schema_metadata(meta), path)
    if result.examples is not None:
        write_table_atomic(result.examples, path.with_suffix(".examples.parquet"))
    if result.items is not None:
        write_table_atomic(result.items, path.with_suffix(".items.parquet"))


def _load(path: Path, need_examples: bool) -> MetricResult | None:
    if not path.is_file():
        return None
    examples_path, items_path = path.with_suffix(".examples.parquet"), path.with_suffix(".items.parquet")
    if need_examples and not examples_path.is_file():
        return None
    try:
        table = pq.read_table(path)
        meta = {k.decode(): json.loads(v) for k, v in (table.schema.metadata or {}).items()}
        rows = [MetricRow(**row) for row in table.to_pylist()]
        examples = pq.read_table(examples_path) if need_examples else None
        items = pq.read_table(items_path) if items_path.is_file() else None
    except (OSError, ValueError, KeyError, pa.ArrowException):
        return None  # a corrupt cache entry is recomputed, never trusted
    return MetricResult(rows=rows, protocol=meta.get("protocol", {}), data_checksums=meta.get("checksums", {}),
                        examples=examples, notes=meta.get("notes", []), items=items)


def evaluate(
    model: ModelHandle,
    metrics: Sequence[PlannedMetric],
    ctx: EvalContext,
    plugin_versions: dict[str, str],
    cache_dir: Path | None,
    intervals: bool = True,
) -> list[Evaluated]:
    """Run each planned metric (with its own item limit); with ``cache_dir`` reuse and store baselines there.

    The cache holds what the metric returned; the core's rows (values and intervals of every
    aggregate measure, :mod:`metric_rows`) are computed from its items after each evaluation or
    load, so ``intervals=False`` (the trajectory probe) and a full run share one cache entry."""
    out: list[Evaluated] = []
    for planned in metrics:
        metric, options = planned.metric, planned.options
        metric_ctx = dataclasses.replace(ctx, limit=planned.limit, domains=planned.domains or ctx.domains)
        start = time.perf_counter()
        version = plugin_versions.get(planned.provider, "")
        path = None
        if cache_dir is not None:
            sums = dataset_checksums(metric, metric_ctx)
            path = cache_dir / "baselines" / f"{metric.name}-{cache_key(model, metric, version, metric_ctx, options, sums)}.parquet"
            # the main process reads the cache and hands its answer to every launched process: all evaluate, or none
            cached = broadcast(_load(path, metric_ctx.save_examples) if ranks().is_main else None)
            if cached is not None:
                result = with_core_rows(metric, cached, metric_ctx.seed, intervals)
                out.append(Evaluated(metric, planned.provider, options, result, True, time.perf_counter() - start))
                continue
        result = metric.evaluate(model, metric_ctx, options)
        if path is not None and ranks().is_main:
            _store(path, result)
        result = with_core_rows(metric, result, metric_ctx.seed, intervals)
        out.append(Evaluated(metric, planned.provider, options, result, False, time.perf_counter() - start))
    return out
