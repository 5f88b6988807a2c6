"""Which metric rows ``compare`` reads and shows: complete runs only, one run per configuration and
seed, then the user's filters and the default measure / domain selection."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from debiasbench.domains import OVERALL, STUDY_DOMAINS
from debiasbench.errors import DebiasbenchError
from debiasbench.results.storage import ResultsLocation, open_store
from debiasbench.results.tables import read_table_checked


@dataclass
class Filters:
    """The ``compare`` selection. Empty lists select everything."""

    metrics: list[str] = field(default_factory=list)  # metric or measure names
    models: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)  # evaluated domains
    source_domains: list[str] = field(default_factory=list)
    all_measures: bool = False
    all_domains: bool = False


def split_values(values: Iterable[str] | None) -> list[str]:
    """Repeated and comma-separated option values, flattened: ``["a,b", "c"]`` -> ``[a, b, c]``."""
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


def read_complete_rows(results_dir: ResultsLocation) -> tuple[list[dict[str, Any]], list[str]]:
    """Metric rows of the complete runs of ``results_dir``, plus warnings about incomplete ones.

    A run is complete once its ``runs`` row exists (it is written last), so rows of a run
    killed between the two writes are left out rather than counted twice after a rerun.
    """
    store = open_store(results_dir)
    if not store.exists():
        raise DebiasbenchError(f"results dir {store} does not exist; run `debiasbench run` or `debiasbench sweep` first, or pass the folder")
    metrics, skipped = read_table_checked(store, "metrics")
    runs, skipped_runs = read_table_checked(store, "runs")
    warnings = [f"skipped {s}" for s in (*skipped, *skipped_runs)]
    if metrics.num_rows == 0:
        raise DebiasbenchError(f"no readable metric rows in {store.where('metrics')}"
                               + (f" ({len(skipped)} damaged file(s): {skipped[0]})" if skipped else "")
                               + "; run `debiasbench run` or `debiasbench eval` first, or pass the right folder")
    complete = set(runs.column("run_id").to_pylist())
    rows = metrics.to_pylist()
    damaged = {s.run_id for s in skipped_runs}
    incomplete = sorted({r["run_id"] for r in rows} - complete - damaged)
    if damaged & {r["run_id"] for r in rows}:
        warnings.append(f"{len(damaged)} run(s) left out because their runs file is damaged (see above)")
    rows = [r for r in rows if r["run_id"] not in damaged]
    if incomplete:
        warnings.append(f"{len(incomplete)} run(s) without a runs row were left out (interrupted before finishing): "
                        f"{', '.join(incomplete[:3])}{' ...' if len(incomplete) > 3 else ''}")
        rows = [r for r in rows if r["run_id"] in complete]
    if not rows:
        raise DebiasbenchError(f"no complete runs in {store}: every metrics file lacks its runs row")
    rows, duplicates = newest_of_duplicates(rows)
    if duplicates:
        warnings.append(f"{len(duplicates)} run(s) repeat the configuration and seed of a newer run and were left out "
                        f"(a repeat is not a replication; use another seed): {', '.join(duplicates[:3])}"
                        f"{' ...' if len(duplicates) > 3 else ''}")
    kept = {r["run_id"] for r in rows}
    warnings += undefined_notes([r for r in runs.to_pylist() if r["run_id"] in kept])
    return rows, warnings


def undefined_notes(runs: list[dict[str, Any]]) -> list[str]:
    """The runs' notes that say a figure is undefined (``undefined: ...``, e.g. BBQ's bias scores of a
    model at chance): the cells they leave empty are explained, not silently missing."""
    import json

    out = []
    for run in runs:
        try:
            notes = json.loads(run.get("notes") or "[]")
        except ValueError:
            continue
        out += [f"run {run['run_id']}: {n}" for n in notes if isinstance(n, str) and "undefined: " in n]
    return out


def newest_of_duplicates(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Runs with the same configuration hash (which includes the seed) are one run: keep the newest."""
    newest: dict[str, tuple[Any, str]] = {}
    for r in rows:
        key = r.get("config_hash")
        if key and (key not in newest or (r["time"], r["run_id"]) > newest[key]):
            newest[key] = (r["time"], r["run_id"])
    keep = {run for _, run in newest.values()}
    dropped = sorted({r["run_id"] for r in rows if r.get("config_hash") and r["run_id"] not in keep})
    return [r for r in rows if not r.get("config_hash") or r["run_id"] in keep], dropped


def _check_values(wanted: list[str], available: Iterable[str], flag: str) -> None:
    """Fail in one line (with a did-you-mean) when a filter value matches nothing."""
    known = sorted({a for a in available if a})
    for value in wanted:
        if value not in known:
            close = difflib.get_close_matches(value, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"present: {', '.join(known)}"
            raise DebiasbenchError(f"{flag} {value!r} matches no row; {hint}")


def headline_measures(rows: list[dict[str, Any]]) -> set[str]:
    """The measures the rows themselves mark headline (the metric declared them so when the run was
    made), so archived results render the same whatever plugins are installed now. Rows written
    before the flag existed: a measure named like its metric, else every measure of that metric."""
    chosen = {r["measure"] for r in rows if r.get("headline")}
    flagged = {r["metric"] for r in rows if r.get("headline")}
    by_metric: dict[str, set[str]] = {}
    for r in rows:
        if r["metric"] not in flagged:
            by_metric.setdefault(r["metric"], set()).add(r["measure"])
    for metric, measures in by_metric.items():
        chosen.update({metric} if metric in measures else measures)
    return chosen


def select(rows: list[dict[str, Any]], filters: Filters) -> list[dict[str, Any]]:
    """Apply the filters, then the default measure and domain selection (see ``compare --help``)."""
    checks = (
        (filters.models, "model", "--model"),
        (filters.methods, "method", "--method"),
        (filters.source_domains, "source_domain", "--source-domain"),
        (filters.domains, "domain", "--domain"),
    )
    for wanted, column, flag in checks:
        if wanted:
            _check_values(wanted, (r[column] for r in rows), flag)
            rows = [r for r in rows if r[column] in wanted]
    if filters.metrics:
        _check_values(filters.metrics, [r["metric"] for r in rows] + [r["measure"] for r in rows], "--metric")
        rows = [r for r in rows if r["metric"] in filters.metrics or r["measure"] in filters.metrics]
    elif not filters.all_measures:
        headline = headline_measures(rows)
        rows = [r for r in rows if r["measure"] in headline]
    if not filters.domains and not filters.all_domains:
        shown = set(STUDY_DOMAINS) | {OVERALL} | {r["source_domain"] for r in rows}
        rows = [r for r in rows if r["domain"] in shown]
    if not rows:
        raise DebiasbenchError("no rows left after filtering; loosen --metric/--model/--method/--domain/--source-domain")
    return rows
