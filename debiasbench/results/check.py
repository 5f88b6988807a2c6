"""``debiasbench check``: verify a results folder before trusting a comparison of it.

Every finding is damage (exit 1), because each one changes what ``compare`` and a study report
show: a file that is not readable Parquet or has a foreign schema; a runs row whose metrics are
missing, or whose metrics promise per-item rows (their ``aggregate`` is set) that are missing; a
method run's cell with before but no after rows (or the reverse; relearned rows without both), in
the metrics or the items, or with a stage that is none of before, after, relearned; a cell whose
stages' items differ (its change cannot be paired); tables of a run with no
runs row (an interrupted run: compare leaves it out); repeats of one configuration and seed
(compare keeps the newest). ``compare`` and ``study --report-only`` run the same checks first and
name what they leave out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from debiasbench.errors import DebiasbenchError
from debiasbench.results.schemas import STAGES, TABLES
from debiasbench.results.storage import ResultsLocation, ResultsStore, open_store
from debiasbench.results.tables import read_table_checked


@dataclass
class CheckReport:
    runs: int = 0
    files: int = 0
    damage: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)  # not damage: kept for callers that add notes
    tables: dict[str, Any] = field(default_factory=dict, repr=False)  # every table as read (damaged files left out)


def check_results(results_dir: ResultsLocation | ResultsStore) -> CheckReport:
    store = open_store(results_dir)
    if not store.exists():
        raise DebiasbenchError(f"results dir {store} does not exist or is not a folder; pass a folder written by run, eval or sweep")
    report = CheckReport()
    tables = {}
    for name in TABLES:
        table, skipped = read_table_checked(store, name)
        tables[name] = table
        report.files += len(store.list(name))
        report.damage += [f"{name}: {s}" for s in skipped]
    runs = tables["runs"].to_pylist()
    complete = {r["run_id"] for r in runs}
    report.runs = len(complete)
    report.tables = tables
    method_runs = {r["run_id"] for r in runs if r["method"] not in (None, "", "none")}
    with_metrics = set(tables["metrics"].column("run_id").to_pylist())
    for run in sorted(complete - with_metrics):
        report.damage.append(f"run {run} has a runs row but no metric rows (its metrics file is missing or damaged)")
    for name in (n for n in TABLES if n != "runs"):  # every per-run table but the one that marks a run complete
        orphans = sorted(set(tables[name].column("run_id").to_pylist()) - complete)
        if orphans:
            report.damage.append(f"{len(orphans)} run(s) have {name} but no runs row (interrupted, or its runs file is damaged; "
                                 "left out by compare): " + ", ".join(orphans[:3]) + (" ..." if len(orphans) > 3 else ""))
    by_hash: dict[str, list[str]] = {}
    for r in runs:
        if r["config_hash"]:
            by_hash.setdefault(r["config_hash"], []).append(r["run_id"])
    for config_hash, ids in sorted(by_hash.items()):
        if len(ids) > 1:
            report.damage.append(f"configuration {config_hash[:8]} ran {len(ids)} times with the same seed: {', '.join(sorted(ids))} "
                                 "(compare keeps the newest; move the others away)")
    metric_rows = [r for r in tables["metrics"].to_pylist() if r["run_id"] in complete]
    item_rows = [r for r in tables["items"].to_pylist() if r["run_id"] in complete]
    report.damage += _one_stage(metric_rows, method_runs, "metric")
    report.damage += _missing_items(metric_rows, item_rows)
    report.damage += _one_stage(item_rows, method_runs, "item")
    report.damage += _unpaired(item_rows, complete)
    return report


def _one_stage(rows: list[dict], method_runs: set[str], what: str) -> list[str]:
    """A method run's cells with only before or only after rows (a plain evaluation has only before),
    relearned rows without both, or a stage no run writes."""
    stages: dict[tuple[str, str, str], set[str]] = {}
    for r in rows:
        if r["run_id"] in method_runs or r["stage"] not in STAGES:
            stages.setdefault((r["run_id"], r["measure"], r["domain"]), set()).add(r["stage"])
    out = []
    for (run, measure, domain), seen in sorted(stages.items()):
        unknown = sorted(seen - set(STAGES))
        if unknown:
            out.append(f"run {run}: {measure} on {domain} has {what} rows of stage {unknown[0]!r}, which no run writes "
                       f"(stages: {', '.join(STAGES)}): its file was edited or is foreign")
            continue
        if seen - {"relearned"} != {"before", "after"}:
            has = "/".join(s for s in STAGES if s in seen)
            lacks = "/".join(s for s in ("before", "after") if s not in seen)
            out.append(f"run {run}: {measure} on {domain} has {has} but no {lacks} {what} rows (its file was cut or edited): "
                       "its change cannot be computed")
    return out


def _missing_items(metric_rows: list[dict], item_rows: list[dict]) -> list[str]:
    """Metric rows whose value follows from per-item rows (``aggregate`` set) without those rows."""
    have = {(r["run_id"], r["measure"], r["stage"]) for r in item_rows}
    missing: dict[str, set[str]] = {}
    for r in metric_rows:
        if r.get("aggregate") and (r["run_id"], r["measure"], r["stage"]) not in have:
            missing.setdefault(r["run_id"], set()).add(f"{r['measure']} {r['stage']}")
    return [f"run {run} has no per-item rows for {', '.join(sorted(what)[:3])}{' ...' if len(what) > 3 else ''} "
            "(its items file is missing or cut): its changes cannot be paired" for run, what in sorted(missing.items())]


def _unpaired(rows: list[dict], complete: set[str]) -> list[str]:
    """Cells whose stages' item sets differ (before and after, and relearned where a run relearned)."""
    stages: dict[tuple[str, str, str], dict[str, set[str]]] = {}
    for r in rows:
        if r["run_id"] in complete:
            stages.setdefault((r["run_id"], r["measure"], r["domain"]), {}).setdefault(r["stage"], set()).add(r["item"])
    out = []
    for (run, measure, domain), by_stage in sorted(stages.items()):
        if "before" in by_stage and "after" in by_stage and by_stage["before"] != by_stage["after"]:
            diff = len(by_stage["before"] ^ by_stage["after"])
            out.append(f"run {run}: {measure} on {domain} has {diff} item(s) in only one of before/after: its change cannot be paired")
        if "before" in by_stage and "relearned" in by_stage and by_stage["before"] != by_stage["relearned"]:
            diff = len(by_stage["before"] ^ by_stage["relearned"])
            out.append(f"run {run}: {measure} on {domain} has {diff} item(s) in only one of before/relearned: "
                       "its survival cannot be paired")
    return out
