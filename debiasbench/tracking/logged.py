"""What a tracker holds of a finished run: the resolved configuration, the training trajectory as
step metrics, the figures of every stage with the paired change, and the files the run wrote."""

from __future__ import annotations

import json
import math
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from debiasbench.plugin_system.interfaces import StepInfo, TrackerRun

_KEY = re.compile(r"[^A-Za-z0-9_\-./ ]")


def key(*parts: str) -> str:
    """A metric name every backend accepts (MLflow allows letters, digits, ``_ - . /`` and spaces)."""
    return "/".join(_KEY.sub("_", str(p)) for p in parts if p)


@dataclass
class FinishedRun:
    """A finished run as the records hold it (``history``: every training step, as the run reported it or as its steps table holds it)."""

    run_row: Mapping[str, Any]
    metric_rows: Sequence[Mapping[str, Any]]
    trajectory_rows: Sequence[Mapping[str, Any]] = ()
    history: Sequence[StepInfo] = ()
    items: Any = None  # the per-item rows (pyarrow table), for the paired changes
    files: Sequence[Any] = field(default_factory=list)  # local Paths (object-store URIs are named, not copied)


def flat_params(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"resolved": {"model": "x"}}`` -> ``{"resolved.model": "x"}``; lists and None as JSON text."""
    out: dict[str, str] = {}
    for k, v in config.items():
        name = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(flat_params(v, f"{name}."))
        else:
            out[name] = v if isinstance(v, str) else json.dumps(v, default=str, sort_keys=True)
    return out


def step_metrics(history: Iterable[StepInfo], trajectory_rows: Iterable[Mapping[str, Any]]) -> dict[int, dict[str, float]]:
    """step -> values: each training step's losses (``train/...``) and each probe of ``--eval-every`` (``probe/MEASURE/DOMAIN``)."""
    steps: dict[int, dict[str, float]] = {}
    for info in history:
        values = {"train/forget_loss": info.forget_loss, "train/epoch": float(info.epoch)}
        if info.retain_loss is not None:
            values["train/retain_loss"] = info.retain_loss
        values.update({key("train", k): v for k, v in info.extra.items()})
        steps.setdefault(info.step, {}).update(values)
    for row in trajectory_rows:
        if row.get("measure") and row.get("value") is not None:
            steps.setdefault(int(row["step"]), {})[key("probe", row["measure"], row.get("domain") or "")] = row["value"]
    return {step: {k: float(v) for k, v in values.items() if _finite(v)} for step, values in sorted(steps.items())}


def figures(metric_rows: Sequence[Mapping[str, Any]], items: Any = None) -> dict[str, float]:
    """``STAGE/MEASURE/DOMAIN`` for every stage's figure (all evaluated items), and per measure and domain
    with a before and an after: ``change/...`` (after - before of those), and where per-item rows pair
    them, the run summary's paired figures on the held-out test items: ``test_before/``, ``test_after/``,
    ``test_change/`` with its 95 % interval (``test_change_ci_low/``, ``test_change_ci_high/``),
    ``test_d/`` (the change in distance to the ideal, negative = closer) and ``test_p/`` (docs/statistics.md)."""
    from debiasbench.statistics.paired import paired_cell

    out: dict[str, float] = {}
    cells: dict[tuple[str, str], dict[str, Mapping[str, Any]]] = {}
    for row in metric_rows:
        if _finite(row.get("value")):
            out[key(row["stage"], row["measure"], row["domain"])] = float(row["value"])
            cells.setdefault((row["measure"], row["domain"]), {})[row["stage"]] = row
    item_rows = items.to_pylist() if items is not None else None
    for (measure, domain), stages in cells.items():
        if "before" not in stages or "after" not in stages:
            continue
        out[key("change", measure, domain)] = float(stages["after"]["value"]) - float(stages["before"]["value"])
        paired = paired_cell(item_rows, measure, domain, stages["after"])
        if paired is not None:  # on the test items only, as the run's summary shows it: its own names, so change = after - before above
            out.update({key("test_before", measure, domain): paired.before, key("test_after", measure, domain): paired.after,
                        key("test_change", measure, domain): paired.delta,
                        key("test_change_ci_low", measure, domain): paired.delta_ci[0],
                        key("test_change_ci_high", measure, domain): paired.delta_ci[1], key("test_d", measure, domain): paired.d_delta,
                        key("test_p", measure, domain): paired.p})
    return {k: v for k, v in out.items() if _finite(v)}


def log_finished(run: TrackerRun, done: FinishedRun) -> None:
    """Everything of ``done`` into ``run``: params first, then the steps in order, the figures, the files
    (the run's own ``summary.json``, the figures and the runs row, written to a scratch folder first)."""
    config = json.loads(done.run_row.get("config") or "{}")
    run.log_params({**flat_params(config), "run_id": str(done.run_row.get("run_id", ""))})
    for step, values in step_metrics(done.history, done.trajectory_rows).items():
        if values:
            run.log_metrics(values, step)
    values = figures(done.metric_rows, done.items)
    for name in ("steps", "duration_s", "forget_texts"):
        if _finite(done.run_row.get(name)):
            values[f"run/{name}"] = float(done.run_row[name])
    run.log_summary(values)
    with tempfile.TemporaryDirectory(prefix="debiasbench-track-") as scratch:
        summary = Path(scratch) / "summary.json"
        summary.write_text(json.dumps({"run": {k: _plain(v) for k, v in done.run_row.items()}, "figures": values},
                                      indent=2, sort_keys=True), encoding="utf-8")
        run.log_artifact(summary)
    for path in done.files:
        if isinstance(path, Path) and path.is_file():  # a --save-model folder stays where it is (gigabytes)
            run.log_artifact(path, f"results/{path.parent.name}")  # RESULTS/metrics/RUN.parquet -> results/metrics


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
