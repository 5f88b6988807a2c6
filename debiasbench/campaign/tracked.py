"""A sweep or study logged to experiment trackers (``track`` in its file, ``--track``; docs/tracking.md):
one parent run holding the file and the totals (and a study's report files), and one child run per point."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from debiasbench.campaign.sweep_file import read_campaign_file
from debiasbench.results.storage import ResultsLocation, open_store
from debiasbench.plugin_system.interfaces import StepInfo
from debiasbench.results.schemas import ITEMS_SCHEMA, METRICS_SCHEMA, RUNS_SCHEMA, STEPS_SCHEMA, TABLES, TRAJECTORY_SCHEMA
from debiasbench.results.tables import read_file
from debiasbench.run.execute import RunResult
from debiasbench.run.tracked import log_result
from debiasbench.tracking.fanout import Tracking
from debiasbench.tracking.logged import FinishedRun, flat_params, log_finished


def open_parent(kind: str, name: str, source: Path, plans: Sequence[Any]) -> Tracking | None:
    """The parent run of a sweep or study (None when no point names a tracker): the file's settings as
    params and the file itself as an artifact."""
    targets = next((plan.trackers for plan in plans if plan.trackers), [])
    if not targets:
        return None
    title = f"{kind} {name}"
    parent = Tracking.start(targets, title, group=title)
    parent.log_params({"kind": kind, "file": str(source), **flat_params(read_campaign_file(source, f"{kind} file"))})
    parent.log_artifact(Path(source))
    return parent


def log_point(parent: Tracking, label: str, result: RunResult) -> None:
    """A point that ran in this process: a child run with its params, training steps, figures and files."""
    child = parent.child(label)
    log_result(child, result)
    child.finish()


def log_failed_point(parent: Tracking, label: str, message: str) -> None:
    """A point that failed: a child run marked failed, with the reason."""
    child = parent.child(label)
    child.log_params({"error": message})
    child.finish(failed=True)


def log_stored_point(parent: Tracking, label: str, results_dir: ResultsLocation, run_id: str) -> None:
    """A point a parallel worker ran, from its stored records: the same child a point run in this process
    gets, its per-step losses read back from the steps table and its ``--eval-every`` probes from the trajectories."""
    store = open_store(results_dir)

    def rows(key: str, schema: Any) -> list[dict[str, Any]]:
        return read_file(store, key, schema).to_pylist() if store.is_file(key) else []

    run_rows = rows(f"runs/{run_id}.parquet", RUNS_SCHEMA)
    if not run_rows:
        return
    items = read_file(store, f"items/{run_id}.parquet", ITEMS_SCHEMA) if store.is_file(f"items/{run_id}.parquet") else None
    files = [Path(str(store.where(f"{table}/{run_id}.parquet"))) for table in TABLES]
    history = [stored_step(r) for r in rows(f"steps/{run_id}.parquet", STEPS_SCHEMA)]
    done = FinishedRun(run_rows[0], rows(f"metrics/{run_id}.parquet", METRICS_SCHEMA),
                       rows(f"trajectories/{run_id}.parquet", TRAJECTORY_SCHEMA), history, items, files)
    child = parent.child(label)
    log_finished(child, done)  # type: ignore[arg-type]  # Tracking has TrackerRun's methods
    child.finish()


def stored_step(row: dict[str, Any]) -> StepInfo:
    """A steps-table row as the StepInfo the run reported."""
    extra = json.loads(row["extra"]) if row.get("extra") else {}
    return StepInfo(int(row["step"]), int(row["epoch"]), float(row["forget_loss"]), row["retain_loss"], extra)


def close_parent(parent: Tracking | None, totals: dict[str, float], files: Sequence[Any] = (), failed: bool = False) -> None:
    """The totals (points ran, skipped, failed) and the files (a study's report) into the parent, then close it."""
    if parent is None:
        return
    parent.log_summary(totals)
    for path in files:
        if isinstance(path, Path) and path.is_file():
            parent.log_artifact(path, "report")
    parent.finish(failed=failed)
