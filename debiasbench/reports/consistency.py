"""Warnings about rows ``compare`` puts side by side that were not measured the same way."""

from __future__ import annotations

import json
from typing import Any


def consistency_warnings(rows: list[dict[str, Any]]) -> list[str]:
    """One line per measure whose compared rows differ in protocol, data checksums or plugin version."""
    lines = []
    by_measure: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_measure.setdefault(r["measure"], []).append(r)
    for measure, group in sorted(by_measure.items()):
        for column, what in (("protocol", "protocol"), ("data_checksum", "data checksums"), ("plugin_version", "plugin version")):
            values = (_without_seed(r[column]) if column == "protocol" else r[column] for r in group)
            variants = sorted({v or "" for v in values})
            if len(variants) < 2:
                continue
            detail = _json_difference(variants) if column != "plugin_version" else ", ".join(v or "?" for v in variants)
            lines.append(f"{measure}: compared rows differ in {what} ({detail}); their numbers may not be comparable")
    return lines


def _without_seed(protocol: str | None) -> str | None:
    """The protocol minus its seed and batch size: seeds are a dimension ``compare`` aggregates
    (mean ± sd), and the batch size changes no figure; neither is a difference in how a number was measured."""
    parsed = json_dict(protocol or "{}")
    parsed.pop("seed", None)
    parsed.pop("batch_size", None)
    if isinstance(parsed.get("options"), dict):
        parsed["options"] = {k: v for k, v in parsed["options"].items() if k != "batch_size"}
    return json.dumps(parsed, sort_keys=True)


def unpoolable_cells(cells: dict[Any, list[dict[str, Any]]]) -> list[str]:
    """One line per cell whose runs were measured differently (protocol or data checksums): their
    values are not replicates, so ``compare`` does not average them unless asked (``--pool-protocols``)."""
    lines = []
    for (key, column), shown in cells.items():
        if len(shown) < 2:
            continue
        for column_name, what in (("protocol", "protocol"), ("data_checksum", "data checksums")):
            values = sorted({(_without_seed(r[column_name]) if column_name == "protocol" else r[column_name]) or "" for r in shown})
            if len(values) > 1:
                lines.append(f"{key.method} on {key.model} (source {key.source_domain}), {column.measure} / {column.domain}: "
                             f"its {len(shown)} runs differ in {what} ({_json_difference(values)})")
                break
    return lines


def _json_difference(variants: list[str]) -> str:
    """The keys whose values differ between JSON objects, e.g. ``scoring: mean | sum``."""
    parsed = [json_dict(v) for v in variants]
    keys = sorted({k for p in parsed for k in p})
    parts = []
    for k in keys:
        values = list(dict.fromkeys(short_value(p.get(k, "-")) for p in parsed))
        if len(values) > 1:
            shown = [v if len(v) <= 24 else v[:12] + "…" for v in values]
            parts.append(f"{k}: {' | '.join(shown)}")
    return "; ".join(parts[:4]) + (" ..." if len(parts) > 4 else "") if parts else f"{len(variants)} variants"


def json_dict(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {"options": text}
    return value if isinstance(value, dict) else {"options": value}


def short_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
