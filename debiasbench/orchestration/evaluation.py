"""Evaluate metrics on a model, reusing cached baselines for unchanged model + metric + data + protocol."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from debiasbench.plugin_system.interfaces import (
    EvalContext,
    Metric,
    MetricResult,
    MetricRow,
    ModelHandle,
)
from debiasbench.plugin_system.registry import Registry
from debiasbench.support.atomic import write_table_atomic
from debiasbench.support.hashing import dumps

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
        dataset = ctx.registry.get("dataset", name)
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
    }
    return hashlib.sha256(dumps(payload).encode()).hexdigest()[:32]


def _store(path: Path, result: MetricResult) -> None:
    rows = [dataclasses.asdict(r) for r in result.rows]
    table = pa.Table.from_pylist(rows, schema=_ROW_SCHEMA)
    meta = {"protocol": dumps(result.protocol), "checksums": dumps(result.data_checksums), "notes": dumps(result.notes)}
    write_table_atomic(table.replace_schema_metadata(meta), path)
    if result.examples is not None:
        write_table_atomic(result.examples, path.with_suffix(".examples.parquet"))


def _load(path: Path, need_examples: bool) -> MetricResult | None:
    if not path.is_file():
        return None
    examples_path = path.with_suffix(".examples.parquet")
    if need_examples and not examples_path.is_file():
        return None
    try:
        table = pq.read_table(path)
        meta = {k.decode(): json.loads(v) for k, v in (table.schema.metadata or {}).items()}
        rows = [MetricRow(**row) for row in table.to_pylist()]
        examples = pq.read_table(examples_path) if need_examples else None
    except (OSError, ValueError, KeyError, pa.ArrowException):
        return None  # a corrupt cache entry is recomputed, never trusted
    return MetricResult(rows=rows, protocol=meta.get("protocol", {}), data_checksums=meta.get("checksums", {}),
                        examples=examples, notes=meta.get("notes", []))


def evaluate(
    model: ModelHandle,
    metrics: list[tuple[Metric, str, Any]],
    ctx: EvalContext,
    plugin_versions: dict[str, str],
    cache_dir: Path | None,
) -> list[Evaluated]:
    """Run each (metric, provider, options); with ``cache_dir`` reuse and store baselines there."""
    out: list[Evaluated] = []
    for metric, provider, options in metrics:
        start = time.perf_counter()
        version = plugin_versions.get(provider, "")
        path = None
        if cache_dir is not None:
            sums = dataset_checksums(metric, ctx)
            path = cache_dir / "baselines" / f"{metric.name}-{cache_key(model, metric, version, ctx, options, sums)}.parquet"
            cached = _load(path, ctx.save_examples)
            if cached is not None:
                out.append(Evaluated(metric, provider, options, cached, True, time.perf_counter() - start))
                continue
        result = metric.evaluate(model, ctx, options)
        if path is not None:
            _store(path, result)
        out.append(Evaluated(metric, provider, options, result, False, time.perf_counter() - start))
    return out


def resolve_metrics(names: list[str], registry: Registry, raw_options: dict[str, dict[str, str]]) -> list[tuple[Metric, str, Any]]:
    """Metric names -> (metric, provider, typed options); unknown names and options fail early."""
    from debiasbench.plugin_system.options import build_options

    resolved = []
    for name in names:
        metric = registry.get("metric", name)
        entry = registry.find("metric", name)
        assert entry is not None
        options = build_options(metric.Options, raw_options.get(metric.name, raw_options.get(name, {})), f"metric {metric.name!r}")
        resolved.append((metric, entry.provider, options))
    return resolved
