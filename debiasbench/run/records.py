"""Records of a run: the metric, run, trajectory and per-item rows, built once, then written.

Building is separate from writing so the rows a run produced exist in memory before the first
file is touched; the writer writes per-item tables and the trajectory first, then the metrics,
then the run row that marks the run complete (``compare`` and ``sweep`` trust only runs whose
run row exists).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from debiasbench import __version__
from debiasbench.run.evaluation import Evaluated
from debiasbench.run.plan import Plan
from debiasbench.plugin_system.interfaces import ModelHandle, UnlearnOutcome
from debiasbench.plugin_system.loader import LoadedPlugins
from debiasbench.statistics.paired import split_of, split_units
from debiasbench.results.items import ITEM_FIELDS
from debiasbench.results.schemas import ITEMS_SCHEMA, METRICS_SCHEMA, RUNS_SCHEMA, STAGES, STEPS_SCHEMA, TRAJECTORY_SCHEMA
from debiasbench.runtime.faults import fault_point
from debiasbench.results.tables import to_table
from debiasbench.results.storage import ResultsLocation, ResultsStore, short_reason, open_store
from debiasbench.runtime.hashing import dumps
from debiasbench.runtime.memory import headline_mb



@dataclass
class RunRecords:
    """Everything a finished run writes."""

    run_id: str
    metric_rows: list[dict[str, Any]]
    run_row: dict[str, Any]
    trajectory_rows: list[dict[str, Any]] = field(default_factory=list)
    examples: dict[str, Any] = field(default_factory=dict)  # "<metric>-<stage>" -> pyarrow table
    items: Any = None  # pyarrow table of ITEMS_SCHEMA: every metric's per-item rows, every stage
    notes: list[str] = field(default_factory=list)  # what the plugins reported, "metric: note"
    step_rows: list[dict[str, Any]] = field(default_factory=list)  # STEPS_SCHEMA: every unlearning step's losses


@dataclass
class Outcome:
    """What execution produced, handed to :func:`build_records`."""

    run_id: str
    when: dt.datetime
    handle: ModelHandle
    before: list[Evaluated]
    after: list[Evaluated]
    unlearned: UnlearnOutcome | None
    trajectory: list[dict[str, Any]]
    forget_texts: int
    forget_checksums: dict[str, str]
    duration_s: float
    peak_memory: dict[str, float]  # MiB per device: "cpu" (peak RSS), "cuda:N" (allocator peak)
    training: dict[str, Any] = field(default_factory=dict)  # LoRA choice and gradient checkpointing (runs with a method)
    relearned: list[Evaluated] = field(default_factory=list)  # the evaluation after --relearn-steps (empty: not relearned)
    relearn: dict[str, Any] = field(default_factory=dict)  # what relearning did (settings, texts, losses)

    def stages(self) -> tuple[tuple[str, list[Evaluated]], ...]:
        """Each stage's evaluation, in order (a stage that did not run has none)."""
        return tuple((stage, evaluated) for stage, evaluated in zip(STAGES, (self.before, self.after, self.relearned)) if evaluated)


def versions(plugins: LoadedPlugins) -> dict[str, str]:
    """debiasbench, python, torch, transformers and every loaded plugin."""
    import importlib.metadata as md

    out = {"debiasbench": __version__, "python": sys.version.split()[0]}
    for lib in ("torch", "transformers", "datasets", "pyarrow"):
        try:
            out[lib] = md.version(lib)
        except md.PackageNotFoundError:
            pass
    out.update({f"plugin:{k}": v for k, v in plugins.versions().items()})
    return out


def _base(plan: Plan, done: Outcome) -> dict[str, Any]:
    config = plan.config
    return {
        "run_id": done.run_id, "time": done.when, "model": plan.model, "model_fingerprint": done.handle.fingerprint.split("+")[0],
        "method": plan.method.name if plan.method else "none",
        "forget_set": plan.forget_set.name if plan.forget_set and plan.method and plan.method.needs_forget else "none",
        "source_domain": config.domain if plan.method else "none", "seed": config.seed, "preset": config.preset,
        "method_options": dumps(dataclasses.asdict(plan.method_options)) if plan.method_options is not None else "{}",
        "config_hash": config.config_hash(),
    }


def _metric_rows(base: dict[str, Any], evaluated: list[Evaluated], stage: str, plugin_versions: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for item in evaluated:
        spec = {m.name: m for m in item.metric.measures}
        protocol, checksum = dumps(item.result.protocol), dumps(item.result.data_checksums)
        for row in item.result.rows:
            measure = spec.get(row.measure)
            rows.append({
                **base, "domain": row.domain, "metric": item.metric.name, "measure": row.measure, "value": row.value,
                "n": row.n, "ci_low": row.ci_low, "ci_high": row.ci_high, "stage": stage, "protocol": protocol,
                "data_checksum": checksum, "ideal": measure.ideal if measure else None,
                "better": measure.better if measure else None, "headline": bool(measure and measure.headline),
                "aggregate": measure.aggregate if measure else None,
                "plugin_version": plugin_versions.get(item.provider, ""),
            })
    return rows


def _notes(*stages: list[Evaluated]) -> list[str]:
    """Each metric's notes once (every stage usually says the same)."""
    return list(dict.fromkeys(f"{item.metric.name}: {note}" for stage in stages for item in stage for note in item.result.notes))


def build_records(plan: Plan, done: Outcome) -> RunRecords:
    """The rows of every table for one finished run."""
    config, plugin_versions = plan.config, plan.plugins.versions()
    base = _base(plan, done)
    metric_rows = [row for stage, evaluated in done.stages() for row in _metric_rows(base, evaluated, stage, plugin_versions)]
    checksums: dict[str, str] = {}
    for item in done.before:
        checksums.update(item.result.data_checksums)
    checksums.update(done.forget_checksums)
    notes = _notes(done.before, done.after, done.relearned)
    unlearned = done.unlearned
    resolved = {
        "model": plan.model, "method_options": json.loads(base["method_options"]),
        "metric_options": {p.metric.name: dataclasses.asdict(p.options) for p in plan.metrics},
        "eval_limits": {p.metric.name: p.limit for p in plan.metrics}, "forget_limit": plan.forget_limit,
        "metric_domains": {p.metric.name: p.domains for p in plan.metrics if p.domains},
        "eval_domains": plan.eval_domains, "selector_options": plan.selector_options,
        "model_source": done.handle.source, "model_info": done.handle.info, **done.training,
        **({"relearn": done.relearn} if done.relearn else {}),
    }
    run_row = {
        **{k: base[k] for k in ("run_id", "time", "model", "model_fingerprint", "method", "forget_set", "source_domain",
                                "seed", "preset", "config_hash")},
        "command": config.command, "config": dumps({**config.to_json(), "resolved": resolved}),
        "versions": dumps(versions(plan.plugins)), "data_checksums": dumps(checksums), "duration_s": done.duration_s,
        "stop_reason": unlearned.stop_reason if unlearned else None, "steps": unlearned.steps if unlearned else None,
        "forget_texts": done.forget_texts, "selected_tokens": unlearned.selected_tokens if unlearned else None,
        "total_tokens": unlearned.total_tokens if unlearned else None, "peak_memory_mb": headline_mb(done.peak_memory),
        "peak_memory_by_device": dumps(done.peak_memory),
        "device": done.handle.device, "dtype": done.handle.dtype, "notes": dumps(notes),
        "method_info": dumps(unlearned.info) if unlearned else "{}",
    }
    examples = {}
    if config.save_examples:
        for stage, evaluated in done.stages():
            for item in evaluated:
                if item.result.examples is not None:
                    examples[f"{item.metric.name}-{stage}"] = item.result.examples
    return RunRecords(done.run_id, metric_rows, run_row, trajectory_rows=done.trajectory, examples=examples, notes=notes,
                      items=_items(plan, done), step_rows=step_rows(done))


def step_rows(done: Outcome) -> list[dict[str, Any]]:
    """One row per unlearning step (none for a plain evaluation)."""
    history = done.unlearned.history if done.unlearned is not None else []
    return [{"run_id": done.run_id, "step": s.step, "epoch": s.epoch, "forget_loss": s.forget_loss, "retain_loss": s.retain_loss,
             "extra": dumps(s.extra) if s.extra else None} for s in history]


def _items(plan: Plan, done: Outcome) -> Any:
    """Every metric's per-item rows, tagged with run, stage and the seeded dev/test split."""
    import pyarrow as pa

    tables = []
    for stage, evaluated in done.stages():
        for item in evaluated:
            rows = item.result.items
            if rows is None or rows.num_rows == 0:
                continue
            n = rows.num_rows
            units = split_units(rows.column("item").to_pylist(), rows.column("group").to_pylist(),
                                getattr(item.metric, "split_by_group", False))
            splits = split_of(item.metric.name, units, plan.config.heldout_seed, plan.config.dev_fraction)
            tables.append(rows.select(list(ITEM_FIELDS))
                          .append_column("run_id", pa.array([done.run_id] * n, pa.string()))
                          .append_column("stage", pa.array([stage] * n, pa.string()))
                          .append_column("metric", pa.array([item.metric.name] * n, pa.string()))
                          .append_column("split", pa.array(splits, pa.string()))
                          .select(ITEMS_SCHEMA.names).cast(ITEMS_SCHEMA))
    return pa.concat_tables(tables) if tables else None


def write_records(results: ResultsLocation | ResultsStore, records: RunRecords) -> list[ResultsLocation]:
    """Per-item tables and trajectory first, then metrics, then the run row that marks the run complete.
    Each file is whole or absent (a rename locally, one upload per object on a store)."""
    store, run_id = open_store(results), records.run_id
    files = [store.write_table(table, f"examples/{run_id}/{name}.parquet") for name, table in records.examples.items()]
    if records.items is not None:
        files.append(store.write_table(records.items, f"items/{run_id}.parquet"))
    if records.trajectory_rows:
        files.append(store.write_table(to_table(records.trajectory_rows, TRAJECTORY_SCHEMA), f"trajectories/{run_id}.parquet"))
    if records.step_rows:
        files.append(store.write_table(to_table(records.step_rows, STEPS_SCHEMA), f"steps/{run_id}.parquet"))
    files.append(store.write_table(to_table(records.metric_rows, METRICS_SCHEMA), f"metrics/{run_id}.parquet"))
    fault_point("written-items")
    files.append(store.write_table(to_table([records.run_row], RUNS_SCHEMA), f"runs/{run_id}.parquet"))
    return files


def write_or_recover(results: ResultsLocation, records: RunRecords, cache: Path | None) -> list[ResultsLocation]:
    """:func:`write_records`, and when that fails (disk full, permissions changed mid-run, the object
    store refusing or out of reach), the same records written to a local recovery folder instead:
    a finished run is never lost at its last step."""
    import errno
    import tempfile

    from debiasbench.errors import DebiasbenchError
    from debiasbench.runtime.paths import cache_dir

    store = open_store(results)
    try:
        return write_records(store, records)
    except OSError as exc:
        reason = exc.strerror or errno.errorcode.get(exc.errno or 0, "") or short_reason(exc)
        for base in (cache_dir(cache) / "recovery", Path(tempfile.gettempdir()) / "debiasbench-recovery"):
            target = base / records.run_id
            try:
                write_records(target, records)
            except OSError:
                continue
            raise DebiasbenchError(
                f"could not write the results to {store} ({reason}); the finished run {records.run_id} is saved in {target}. "
                f"Move it back once {store} is writable: {_copy_back(target, store)}") from None
        raise DebiasbenchError(f"could not write the results to {store} ({reason}), nor to a recovery folder; "
                               "free disk space or fix permissions and rerun") from None


def _copy_back(recovered: Path, store: ResultsStore) -> str:
    """The shell command that puts a recovered run where it belongs, every path shell-quoted (a
    path with a space would otherwise copy to the wrong place)."""
    from debiasbench.runtime.paths import shell_quote

    where = str(store.where())
    if store.local:
        return f"cp -r {shell_quote(f'{recovered}/.')} {shell_quote(f'{where}/')}"
    if where.startswith(("gs://", "gcs://")):
        return f"gcloud storage cp -r {shell_quote(recovered)}/'*' {shell_quote(f'{where}/')}"
    return f"aws s3 cp --recursive {shell_quote(recovered)} {shell_quote(where)}  (add --endpoint-url for a non-AWS endpoint)"


def manifest(records: RunRecords, handle: ModelHandle) -> str:
    """The JSON written beside a saved model: its run row, base model and prefix token."""
    data = {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in records.run_row.items()}
    data["base_model"] = handle.name
    data["prefix_token_id"] = handle.prefix_token_id
    return json.dumps(data, indent=2, default=str)
