"""Cross-domain comparison: the metrics table reshaped into source domain x evaluated domain cells.

A row of the comparison is one configuration (model, method, forget set, source domain,
method options, preset); its runs with different seeds are aggregated as mean, sd and count.
A column is one evaluated domain of one measure. Each cell holds the value after unlearning,
its change from the same run's ``before`` value, and the change in distance to the measure's
ideal. Ideals and directions come from the rows (``ideal``/``better`` columns), never from
code here, so third-party metrics compare like first-party ones.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from debiasbench.reports.consistency import consistency_warnings, json_dict, short_value, unpoolable_cells
from debiasbench.results.items import load_items
from debiasbench.statistics.paired import CellStats, aligned, cell_stats, side, weights_seed
from debiasbench.statistics.distance import distance
from debiasbench.statistics.survival import Survival
from debiasbench.domains import DOMAINS, OVERALL
from debiasbench.errors import DebiasbenchError
from debiasbench.reports.compare_rows import Filters, read_complete_rows, select
from debiasbench.results.storage import ResultsLocation, open_store

BASELINE = "none"
"""Method (and source domain) of a plain evaluation's rows."""


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation over ``n`` runs (``sd`` is None for a single run)."""

    mean: float
    sd: float | None
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Stat | None:
        finite = [v for v in values if v is not None and math.isfinite(v)]
        if not finite:
            return None
        mean = sum(finite) / len(finite)
        sd = math.sqrt(sum((v - mean) ** 2 for v in finite) / (len(finite) - 1)) if len(finite) > 1 else None
        return cls(mean, sd, len(finite))


def _distance(value: float | None, ideal: float | None, better: str | None) -> float | None:
    """:func:`debiasbench.statistics.distance.distance`, or None where the row has no value, no
    direction, or a ``closer`` measure without an ideal."""
    if value is None or better is None or (better == "closer" and ideal is None):
        return None
    return float(distance(value, ideal, better))


# --------------------------------------------------------------------------- the comparison


@dataclass(frozen=True, order=True)
class RowKey:
    """One compared configuration; runs that differ only in seed share it."""

    model: str
    method: str
    source_domain: str
    forget_set: str
    preset: str
    method_options: str  # JSON

    @property
    def is_baseline(self) -> bool:
        return self.method == BASELINE


@dataclass(frozen=True)
class Column:
    """One evaluated domain of one measure."""

    measure: str
    domain: str


@dataclass
class Cell:
    """One configuration on one evaluated domain of one measure, aggregated over its runs."""

    metric: str
    ideal: float | None
    better: str | None
    value: Stat  # after unlearning (a baseline row: the evaluated value)
    before: Stat | None = None
    change: Stat | None = None  # after - before, per run
    distance: Stat | None = None  # distance of the value to the ideal
    distance_change: Stat | None = None  # negative = closer to the ideal
    ci_low: float | None = None  # mean over runs of the interval bounds
    ci_high: float | None = None
    items: int | None = None  # pairs, examples or tokens behind the value
    seeds: tuple[int, ...] = ()
    run_ids: tuple[str, ...] = ()  # the runs behind the cell (one per seed)
    aggregate: str | None = None  # how the measure follows from its per-item rows
    paired: CellStats | None = None  # paired before/after statistics on the test split (docs/statistics.md, "Dev and test items")
    p_holm: float | None = None  # paired.p adjusted over the comparison's family of cells
    q_bh: float | None = None
    survival: Survival | None = None  # the share of the change left after --relearn-steps (paired cells of relearned runs)


@dataclass
class Comparison:
    """What every output format renders."""

    rows: list[RowKey]
    columns: list[Column]
    cells: dict[tuple[RowKey, Column], Cell]
    variants: dict[RowKey, str]  # what tells rows of the same method apart ("learning_rate=3e-05")
    runs: dict[RowKey, int]  # runs aggregated per row
    measures: dict[str, tuple[float | None, str | None]]  # measure -> (ideal, better)
    warnings: list[str] = field(default_factory=list)
    family: str = ""  # the family the cells' p-values are adjusted over
    damage: list[str] = field(default_factory=list)  # one damage line per run that damaged its model (docs/damage.md)

    def measure_names(self) -> list[str]:
        return list(dict.fromkeys(c.measure for c in self.columns))

    def records(self) -> list[dict[str, Any]]:
        """One flat record per non-empty cell (csv and json output); the survival columns only where a run relearned."""
        relearned = any(c.survival is not None for c in self.cells.values())
        out = []
        for row in self.rows:
            for column in self.columns:
                cell = self.cells.get((row, column))
                if cell is None:
                    continue
                out.append({
                    "model": row.model, "method": row.method, "source_domain": row.source_domain,
                    "forget_set": row.forget_set, "preset": row.preset, "method_options": row.method_options,
                    "variant": self.variants.get(row, ""), "domain": column.domain, "metric": cell.metric,
                    "measure": column.measure, "ideal": cell.ideal, "better": cell.better, "runs": cell.value.n,
                    "seeds": " ".join(map(str, cell.seeds)), "value": cell.value.mean, "value_sd": cell.value.sd,
                    "before": _mean(cell.before), "change": _mean(cell.change), "change_sd": _sd(cell.change),
                    "distance": _mean(cell.distance), "distance_change": _mean(cell.distance_change),
                    "distance_change_sd": _sd(cell.distance_change), "ci_low": cell.ci_low, "ci_high": cell.ci_high,
                    "items": cell.items, **_paired_record(cell), **(_survival_record(cell) if relearned else {}),
                })
        return out


PAIRED_FIELDS = ("test_items", "test_before", "test_after", "test_d_delta", "d_delta_ci_low", "d_delta_ci_high", "p", "p_test",
                 "p_floor", "p_holm", "q_bh", "test_change", "change_ci_low", "change_ci_high", "crossed", "past", "past_p", "mde")


def _paired_record(cell: Cell) -> dict[str, Any]:
    """The paired statistics of a cell as flat columns (empty values where there are none), all on
    the held-out test items: d_delta (the change in distance to the ideal) first, the raw change beside it."""
    p = cell.paired
    if p is None:
        return dict.fromkeys(PAIRED_FIELDS)
    return {"test_items": p.n, "test_before": p.before, "test_after": p.after, "test_d_delta": p.d_delta,
            "d_delta_ci_low": p.d_delta_ci[0], "d_delta_ci_high": p.d_delta_ci[1], "p": p.p, "p_test": p.test,
            "p_floor": p.p_floor, "p_holm": cell.p_holm, "q_bh": cell.q_bh, "test_change": p.delta,
            "change_ci_low": p.delta_ci[0], "change_ci_high": p.delta_ci[1], "crossed": p.crossed, "past": p.past,
            "past_p": p.past_p, "mde": p.mde}


SURVIVAL_FIELDS = ("test_relearned", "survival", "survival_ci_low", "survival_ci_high", "survival_note")


def _survival_record(cell: Cell) -> dict[str, Any]:
    """The relearned value and the share of the change that survived it (docs/relearning.md), on the test items."""
    s = cell.survival
    if s is None:
        return dict.fromkeys(SURVIVAL_FIELDS)
    return {"test_relearned": s.relearned, "survival": s.value, "survival_ci_low": s.ci[0] if s.ci else None,
            "survival_ci_high": s.ci[1] if s.ci else None, "survival_note": s.note}


def _mean(stat: Stat | None) -> float | None:
    return stat.mean if stat is not None else None


def _sd(stat: Stat | None) -> float | None:
    return stat.sd if stat is not None else None


# --------------------------------------------------------------------------- aggregation


def _row_key(r: dict[str, Any]) -> RowKey:
    return RowKey(r["model"] or "", r["method"] or BASELINE, r["source_domain"] or BASELINE, r["forget_set"] or BASELINE,
                  r["preset"] or "", r["method_options"] or "{}")


def _domain_order(domain: str) -> tuple[int, str]:
    if domain == OVERALL:
        return (len(DOMAINS) + 1, domain)
    return (DOMAINS.index(domain) if domain in DOMAINS else len(DOMAINS), domain)


def build(rows: list[dict[str, Any]], warnings: list[str] | None = None, pool_protocols: bool = False) -> Comparison:
    """Aggregate selected metric rows into a :class:`Comparison`.

    A cell averages its runs as replicates (seeds); runs of one cell measured under different
    protocols or data are refused (one line naming the cell) unless ``pool_protocols``."""
    # run -> (domain, measure) -> stage -> row
    by_run: dict[tuple[RowKey, str], dict[Column, dict[str, dict[str, Any]]]] = {}
    measures: dict[str, tuple[float | None, str | None]] = {}
    for r in rows:
        column = Column(r["measure"], r["domain"])
        by_run.setdefault((_row_key(r), r["run_id"]), {}).setdefault(column, {})[r["stage"]] = r
        measures.setdefault(r["measure"], (r["ideal"], r["better"]))

    per_cell: dict[tuple[RowKey, Column], list[dict[str, dict[str, Any]]]] = {}
    runs: dict[RowKey, set[str]] = {}
    for (key, run_id), columns in by_run.items():
        runs.setdefault(key, set()).add(run_id)
        for column, stages in columns.items():
            per_cell.setdefault((key, column), []).append(stages)

    shown_stage = {key: "before" if key.is_baseline else "after" for key, _ in per_cell}
    mixed = unpoolable_cells({(k, c): [s[shown_stage[k]] for s in sl if shown_stage[k] in s] for (k, c), sl in per_cell.items()})
    if mixed and not pool_protocols:
        more = f" (and {len(mixed) - 1} more cells)" if len(mixed) > 1 else ""
        raise DebiasbenchError(f"not pooling runs measured differently: {mixed[0]}{more}; select one protocol with "
                               "--model/--method/--source-domain (or a results folder per protocol), or pass --pool-protocols")
    if mixed:
        warnings = [*(warnings or []), *[f"pooled although measured differently: {line}" for line in mixed]]
    cells = {}
    for (key, column), stage_list in per_cell.items():
        cell = _cell(key, stage_list)
        if cell is not None:
            cells[(key, column)] = cell

    row_keys = sorted({k for k, _ in cells}, key=lambda k: (k.model, not k.is_baseline, k.method,
                                                            _domain_order(k.source_domain), k.forget_set, k.preset, k.method_options))
    measure_order = sorted(measures)
    columns = sorted({c for _, c in cells}, key=lambda c: (measure_order.index(c.measure), _domain_order(c.domain)))
    return Comparison(
        rows=row_keys, columns=columns, cells=cells, variants=_variants(row_keys),
        runs={k: len(v) for k, v in runs.items()}, measures=measures,
        warnings=list(warnings or []) + consistency_warnings(rows),
    )


def _cell(key: RowKey, stage_list: list[dict[str, dict[str, Any]]]) -> Cell | None:
    """Aggregate one cell over runs: each run contributes its after value and its own before value."""
    shown_stage = "before" if key.is_baseline else "after"
    shown = [s[shown_stage] for s in stage_list if shown_stage in s]
    if not shown:
        return None
    first = shown[0]
    ideal, better = first["ideal"], first["better"]
    values = [r["value"] for r in shown]
    paired = [(s["before"]["value"], s["after"]["value"]) for s in stage_list if "before" in s and "after" in s]
    lows = [r["ci_low"] for r in shown]
    highs = [r["ci_high"] for r in shown]
    cell = Cell(
        metric=first["metric"], ideal=ideal, better=better, value=Stat.of(values) or Stat(float("nan"), None, len(values)),
        distance=Stat.of([_distance(v, ideal, better) for v in values]),  # type: ignore[misc]
        ci_low=sum(lows) / len(lows) if None not in lows else None,
        ci_high=sum(highs) / len(highs) if None not in highs else None,
        items=max((r["n"] for r in shown if r["n"] is not None), default=None),
        seeds=tuple(sorted(r["seed"] for r in shown if r["seed"] is not None)),
        run_ids=tuple(sorted({r["run_id"] for r in shown})), aggregate=first.get("aggregate"),
    )
    if not key.is_baseline and paired:
        cell.before = Stat.of([b for b, _ in paired])
        cell.change = Stat.of([a - b for b, a in paired])
        dists = [(_distance(b, ideal, better), _distance(a, ideal, better)) for b, a in paired]
        cell.distance_change = Stat.of([da - db for db, da in dists if db is not None and da is not None])
    return cell


def _variants(keys: list[RowKey]) -> dict[RowKey, str]:
    """Label rows of the same model and method by what differs between them (options, forget set, preset)."""
    groups: dict[tuple[str, str], list[RowKey]] = {}
    for k in keys:
        groups.setdefault((k.model, k.method), []).append(k)
    labels: dict[RowKey, str] = {}
    for members in groups.values():
        options = {k: json_dict(k.method_options) for k in members}
        names = sorted({name for o in options.values() for name in o})
        varying = [n for n in names if len({json.dumps(o.get(n), sort_keys=True) for o in options.values()}) > 1]
        vary_set = len({k.forget_set for k in members}) > 1
        vary_preset = len({k.preset for k in members}) > 1
        for k in members:
            parts = [f"{n}={short_value(options[k].get(n))}" for n in varying]
            if vary_set:
                parts.insert(0, f"forget={k.forget_set}")
            if vary_preset:
                parts.append(f"preset={k.preset}")
            labels[k] = " ".join(parts)
    return labels


def attach_paired(comparison: Comparison, results_dir: ResultsLocation, split: str | None) -> None:
    """Paired statistics for every cell with a before and an after, from the runs' per-item rows
    (and the survival of the change where every run also has relearned rows), then Holm and BH
    adjustment over the family of those cells (named in ``comparison.family``)."""
    from debiasbench.statistics.multiplicity import adjust

    wanted = {(run, c.measure, c.domain) for (k, c), cell in comparison.cells.items() if cell.change is not None for run in cell.run_ids}
    items = load_items(results_dir, {run for run, _, _ in wanted}, split)
    tested = []
    for (key, column), cell in comparison.cells.items():
        if cell.change is None or cell.aggregate is None or cell.better is None:
            continue
        runs, relearned = [], []
        for run in cell.run_ids:
            rows = items.get((run, column.measure, column.domain), {})
            if "before" not in rows or "after" not in rows:
                break
            runs.append(aligned(side(rows["before"]), side(rows["after"]), f"{run} {column.measure} {column.domain}"))
            relearned += [side(rows["relearned"])] if "relearned" in rows else []
        else:
            seed = weights_seed(column.measure, column.domain)
            cell.paired = cell_stats(runs, cell.aggregate, cell.ideal, cell.better, seed=seed)
            if cell.paired is not None:
                tested.append(cell)
                if len(relearned) == len(runs):  # every seed relearned: how much of the change survived
                    from debiasbench.statistics.survival import cell_survival

                    cell.survival = cell_survival(runs[0][0], [a for _, a in runs], relearned, cell.aggregate,
                                                  cell.paired.delta_ci, seed)
    if tested:
        comparison.family = f"compare {open_store(results_dir)} ({len(tested)} cells, {split or 'all'} items)"
        adjusted = adjust([c.paired.p for c in tested], comparison.family)  # type: ignore[union-attr]
        for cell, holm, bh in zip(tested, adjusted.holm, adjusted.bh):
            cell.p_holm, cell.q_bh = holm, bh


def run_file(location: ResultsLocation) -> tuple[ResultsLocation, str] | None:
    """``RESULTS/<table>/<run>.parquet`` -> (RESULTS, run); None for anything else."""
    from debiasbench.results.schemas import TABLES
    from debiasbench.results.storage import split

    folder, name = split(location)
    results, table = split(folder)
    if name.endswith(".parquet") and table in TABLES and open_store(location).is_file():
        return results, name.removesuffix(".parquet")
    return None


def compare(results_dir: ResultsLocation, filters: Filters | None = None, split: str | None = "test",
            pool_protocols: bool = False) -> Comparison:
    """Read ``results_dir`` (a folder or an object-store URI) and build the comparison (the API behind
    ``debiasbench compare``); given one run's file of a results directory, compare that run alone."""
    one = run_file(results_dir)
    if one is None and open_store(results_dir).is_file():
        raise DebiasbenchError(f"{results_dir} is a file, not a results folder; pass the folder, or one run's file in its "
                               "metrics/, runs/ or items/ folder")
    run_id = None
    if one is not None:
        results_dir, run_id = one
    rows, warnings = read_complete_rows(results_dir)
    if run_id is not None:
        rows = [r for r in rows if r["run_id"] == run_id]
        if not rows:
            damaged = [w.removeprefix("skipped ") for w in warnings if w.startswith("skipped ") and f"{run_id}.parquet" in w]
            cause = f"its file is damaged: {damaged[0]}" if damaged else "its runs row is missing: interrupted?"
            raise DebiasbenchError(f"run {run_id} has no complete rows in {results_dir} ({cause})")
    comparison = build(select(rows, filters or Filters()), warnings, pool_protocols)
    attach_paired(comparison, results_dir, split)
    comparison.damage = run_damage_lines(rows)
    return comparison


def run_damage_lines(rows: list[dict[str, Any]]) -> list[str]:
    """``run <id> (<method>, <source>): damage: ...`` for every run whose utility moved past its threshold."""
    from debiasbench.reports.damage import damage_line, damage_specs, find_damage
    from debiasbench.plugin_system.loader import get_registry

    found = find_damage(rows, damage_specs(get_registry()))
    described = {r["run_id"]: f"{r.get('method') or 'none'}, {r.get('source_domain') or '-'}" for r in rows}
    return [f"run {run} ({described.get(run, '?')}): {damage_line(found, run)}" for run in dict.fromkeys(d.run_id for d in found)]
