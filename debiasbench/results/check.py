"""``debiasbench check``: verify a results folder before trusting a comparison of it.

Damage (exit 1): a file that is not readable Parquet or has a foreign schema; a run whose runs
row exists but whose metrics are missing; a run whose before and after items differ for a
measure (its changes could not be paired). Findings that are not damage: orphans (tables of a
run with no runs row: interrupted, its rerun is separate) and repeats of one configuration and
seed (``compare`` keeps the newest).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from debiasbench.errors import DebiasbenchError
from debiasbench.results.schemas import TABLES
from debiasbench.results.storage import ResultsLocation, ResultsStore, open_store
from debiasbench.results.tables import read_table_checked


@dataclass
class CheckReport:
    runs: int = 0
    files: int = 0
    damage: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)


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
    with_metrics = set(tables["metrics"].column("run_id").to_pylist())
    for run in sorted(complete - with_metrics):
        report.damage.append(f"run {run} has a runs row but no metric rows (its metrics file is missing or damaged)")
    for name in ("metrics", "items", "trajectories"):
        orphans = sorted(set(tables[name].column("run_id").to_pylist()) - complete)
        if orphans:
            report.findings.append(f"{len(orphans)} run(s) have {name} but no runs row (interrupted; left out by compare): "
                                   + ", ".join(orphans[:3]) + (" ..." if len(orphans) > 3 else ""))
    by_hash: dict[str, list[str]] = {}
    for r in runs:
        if r["config_hash"]:
            by_hash.setdefault(r["config_hash"], []).append(r["run_id"])
    for config_hash, ids in sorted(by_hash.items()):
        if len(ids) > 1:
            report.findings.append(f"configuration {config_hash[:8]} ran {len(ids)} times with the same seed: {', '.join(sorted(ids))} "
                                   "(compare keeps the newest)")
    report.damage += _unpaired(tables["items"].to_pylist(), complete)
    return report


def _unpaired(rows: list[dict], complete: set[str]) -> list[str]:
    """Cells whose before and after item sets differ."""
    stages: dict[tuple[str, str, str], dict[str, set[str]]] = {}
    for r in rows:
        if r["run_id"] in complete:
            stages.setdefault((r["run_id"], r["measure"], r["domain"]), {}).setdefault(r["stage"], set()).add(r["item"])
    out = []
    for (run, measure, domain), by_stage in sorted(stages.items()):
        if "before" in by_stage and "after" in by_stage and by_stage["before"] != by_stage["after"]:
            diff = len(by_stage["before"] ^ by_stage["after"])
            out.append(f"run {run}: {measure} on {domain} has {diff} item(s) in only one of before/after: its change cannot be paired")
    return out
