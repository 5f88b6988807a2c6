"""Figures per group, per domain and between groups, for metrics whose items belong to groups
(HONEST templates, BOLD prompts).

Group ``g`` of domain ``d`` is reported as the domain ``"d/g"`` with the same measure name, so
group rows never collide with the domain rows that join the transfer matrix. Group and domain
figures are means over items (the core computes them, with intervals, from :func:`grouped_items`);
the gap between groups is no item aggregate and stays a row of the metric's own (no interval).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from debiasbench.api import OVERALL, MetricRow, item_rows


@dataclass(frozen=True)
class GroupMeasure:
    """One per-item value averaged per group; ``gap`` names the between-group measure, if any."""

    measure: str
    scale: float = 1.0
    gap: str | None = None
    gap_kind: Literal["range", "difference"] = "range"  # range: max - min; difference: first group - second


def group_label(domain: str, group: str) -> str:
    return f"{domain}/{group}"


def _gap(means: np.ndarray, kind: str) -> np.ndarray:
    return means.max(axis=-1) - means.min(axis=-1) if kind == "range" else means[..., 0] - means[..., 1]


def grouped_rows(domain: str, values: np.ndarray, group_of: np.ndarray, groups: Sequence[str], spec: GroupMeasure) -> list[MetricRow]:
    """Rows ``d/g`` per group, ``d`` pooled, and the gap on ``d`` (when two or more groups have items), without intervals.

    ``groups`` gives the order (for ``difference``: first minus second); groups without items are left out.
    The group and pooled rows say which item rows to write (:func:`grouped_items`); a metric returns
    only the gap rows, the core computes the others from the items.
    """
    present = [g for g in groups if np.any(group_of == g)]
    members = [np.flatnonzero(group_of == g) for g in present]
    if not members:
        return []
    means = np.array([values[m].mean() for m in members])
    sizes = np.array([len(m) for m in members])
    rows = [MetricRow(group_label(domain, g), spec.measure, spec.scale * float(means[k]), int(sizes[k])) for k, g in enumerate(present)]
    rows.append(MetricRow(domain, spec.measure, spec.scale * float((means * sizes).sum() / sizes.sum()), int(sizes.sum())))
    can_gap = len(present) >= 2 and (spec.gap_kind == "range" or list(present[:2]) == list(groups[:2]))
    if spec.gap and can_gap:
        rows.append(MetricRow(domain, spec.gap, spec.scale * float(_gap(means, spec.gap_kind)), int(sizes.sum())))
    return rows


def grouped_items(ids: np.ndarray, values: np.ndarray, domain_of: np.ndarray, group_of: np.ndarray, spec: GroupMeasure,
                  shown: set[tuple[str, str]], *, cluster: np.ndarray | None = None, kept: np.ndarray | None = None,
                  measure_name: str | None = None) -> list[Any]:
    """Per-item rows behind every reported group (``d/g``), domain (``d``) and overall row of ``spec``:
    each is the ``mean`` of ``scale * value`` over its items (the gap, a difference of means, has none).

    ``cluster`` fills the items' ``group`` (the template a sampled continuation belongs to), ``kept``
    their ``kept`` flag (the fluency guard); ``measure_name`` writes the rows under another measure
    name with ``spec``'s labels (an unguarded twin)."""
    tables = []
    for measure, label in sorted(shown):
        if measure != spec.measure:
            continue
        if label == OVERALL:
            mask = np.ones(len(ids), dtype=bool)
        elif "/" in label:
            domain, group = label.split("/", 1)
            mask = (domain_of == domain) & (group_of == group)
        else:
            mask = domain_of == label
        decision = values[mask].astype(bool) if values.dtype == bool else None
        tables.append(item_rows(measure_name or measure, label, ids[mask], spec.scale * values[mask].astype(np.float64),
                                decision=decision, group=None if cluster is None else cluster[mask],
                                kept=None if kept is None else kept[mask]))
    return tables


def gaps_from_items(items: Any, measure: str, gap: str, groups: dict[str, Sequence[str]], kind: str,
                    by_cluster: bool = False) -> list[MetricRow]:
    """The gap rows of ``measure`` recomputed from its group rows' items (``d/g`` labels) that count
    (``kept`` not False): per domain, each group's mean (``by_cluster``: the mean of its clusters'
    means, as ``group-mean``), then max - min (``range``) or first - second (``difference``)."""
    from debiasbench.api import kept_mask

    if items is None or items.num_rows == 0:
        return []
    keep = kept_mask(items)
    cols = {c: np.asarray(items.column(c).to_pylist(), dtype=object)[keep] for c in ("measure", "domain", "group")}
    value = items.column("value").to_numpy(zero_copy_only=False).astype(np.float64)[keep]
    rows = []
    for domain, names in groups.items():
        means, sizes, present = [], [], []
        for g in names:
            mask = (cols["measure"] == measure) & (cols["domain"] == group_label(domain, g))
            if not mask.any():
                continue
            present.append(g)
            if by_cluster:
                clusters = cols["group"][mask].astype(str)
                means.append(float(np.mean([value[mask][clusters == c].mean() for c in np.unique(clusters)])))
                sizes.append(len(np.unique(clusters)))
            else:
                means.append(float(value[mask].mean()))
                sizes.append(int(mask.sum()))
        can_gap = len(means) >= 2 and (kind == "range" or list(present[:2]) == list(names[:2]))
        if can_gap:
            rows.append(MetricRow(domain, gap, float(_gap(np.array(means), kind)), int(sum(sizes))))
    return rows
