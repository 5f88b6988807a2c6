"""The Arrow schemas of the result tables (``docs/reference/results.md`` is generated from these comments).

Layout of a results directory (one file per run in each table, so concurrent runs never
touch the same file)::

    RESULTS/metrics/<run_id>.parquet        long format: one value per row
    RESULTS/runs/<run_id>.parquet           one row: resolved config, versions, checksums
    RESULTS/trajectories/<run_id>.parquet   probe scores every --eval-every steps
    RESULTS/items/<run_id>.parquet          per-item rows of every measure, every stage (paired statistics)
    RESULTS/steps/<run_id>.parquet          every unlearning step's losses (runs with a method)
    RESULTS/examples/<run_id>/<metric>-<stage>.parquet   per-example texts and scores (--save-examples)
"""

from __future__ import annotations

import pyarrow as pa

STAGES = ("before", "after", "relearned")
"""The evaluations of a run, in order: before unlearning, after it, and after ``--relearn-steps`` of
fine-tuning on benign text (docs/relearning.md); a plain evaluation has only ``before``."""

METRICS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("time", pa.timestamp("us", tz="UTC")),
        ("model", pa.string()),
        ("model_fingerprint", pa.string()),
        ("method", pa.string()),  # "none" for a plain evaluation
        ("forget_set", pa.string()),
        ("source_domain", pa.string()),  # what was unlearned; "none" for a plain evaluation
        ("domain", pa.string()),  # evaluated domain; "all" for overall figures
        ("metric", pa.string()),  # the metric's registered name
        ("measure", pa.string()),  # e.g. "crows-pairs.score"
        ("value", pa.float64()),
        ("n", pa.int64()),
        ("ci_low", pa.float64()),
        ("ci_high", pa.float64()),
        ("stage", pa.string()),  # before | after | relearned (after --relearn-steps)
        ("seed", pa.int64()),
        ("protocol", pa.string()),  # JSON: every choice that changes the number
        ("data_checksum", pa.string()),  # JSON: file -> sha256
        ("ideal", pa.float64()),
        ("better", pa.string()),  # closer | higher | lower
        ("headline", pa.bool_()),  # the metric declares this measure headline (shown by default)
        ("aggregate", pa.string()),  # how the value follows from the per-item rows (mean | group-mean | ratio | exp-ratio); null: none
        ("plugin_version", pa.string()),  # "distribution version" of the metric's plugin
        ("preset", pa.string()),
        ("method_options", pa.string()),  # JSON of the resolved method options
        ("config_hash", pa.string()),  # identifies the run configuration (sweep resume)
    ]
)

RUNS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("time", pa.timestamp("us", tz="UTC")),
        ("command", pa.string()),  # run | eval
        ("model", pa.string()),
        ("model_fingerprint", pa.string()),
        ("method", pa.string()),
        ("forget_set", pa.string()),
        ("source_domain", pa.string()),
        ("seed", pa.int64()),
        ("preset", pa.string()),
        ("config", pa.string()),  # JSON: the resolved configuration
        ("config_hash", pa.string()),
        ("versions", pa.string()),  # JSON: debiasbench, torch, transformers and every plugin
        ("data_checksums", pa.string()),  # JSON
        ("duration_s", pa.float64()),
        ("stop_reason", pa.string()),
        ("steps", pa.int64()),
        ("forget_texts", pa.int64()),
        ("selected_tokens", pa.int64()),
        ("total_tokens", pa.int64()),
        ("peak_memory_mb", pa.float64()),
        ("peak_memory_by_device", pa.string()),  # JSON, MiB: {"cpu": peak resident set, "cuda:N": allocator peak of GPU N} (empty in runs before it existed)
        ("device", pa.string()),
        ("dtype", pa.string()),
        ("notes", pa.string()),  # JSON list: what the metrics reported ("metric: note")
        ("method_info", pa.string()),  # JSON: what the method reported (seconds per step, dropped texts, retain perplexity ...)
    ]
)

TRAJECTORY_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("step", pa.int64()),
        ("epoch", pa.int64()),
        ("forget_loss", pa.float64()),
        ("retain_loss", pa.float64()),
        ("domain", pa.string()),
        ("metric", pa.string()),  # the probed metric's registered name
        ("measure", pa.string()),
        ("value", pa.float64()),
        ("ideal", pa.float64()),
        ("distance", pa.float64()),  # distance to the ideal by the measure's direction (smaller is better)
        ("headline", pa.bool_()),  # the metric declares this measure headline
        ("split", pa.string()),  # dev: the value is the figure on the dev items; all: the metric's own value (no per-item rows)
    ]
)


ITEMS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("stage", pa.string()),  # before | after | relearned (after --relearn-steps)
        ("metric", pa.string()),
        ("measure", pa.string()),
        ("domain", pa.string()),
        ("item", pa.string()),  # stable id of the pair / example / window: before and after join on it
        ("value", pa.float64()),  # the item's contribution to the measure (see the measure's aggregate)
        ("weight", pa.float64()),  # denominator of ratio measures (scored tokens ...); null otherwise
        ("group", pa.string()),  # cluster of group-mean measures (StereoSet target term); null otherwise
        ("decision", pa.bool_()),  # per-item binary decision (McNemar), e.g. pair stereotyped; null if none
        ("split", pa.string()),  # dev | test: the seeded held-out split the item belongs to
    ]
)
"""Per-item rows: what every paired statistic is computed from (``RESULTS/items/<run_id>.parquet``)."""

STEPS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("step", pa.int64()),  # 1-based optimisation step of the unlearning
        ("epoch", pa.int64()),
        ("forget_loss", pa.float64()),  # the method's forget objective on this step's batch
        ("retain_loss", pa.float64()),  # its retain objective, where the method has one; null otherwise
        ("extra", pa.string()),  # JSON: any further per-step figures the method reported (StepInfo.extra)
    ]
)
"""Every step's losses (``RESULTS/steps/<run_id>.parquet``): the loss curve of a run wherever it ran (a Ray or
Slurm worker included), and what a tracker logs per step for a point a parallel executor ran."""

TABLES = {"metrics": METRICS_SCHEMA, "runs": RUNS_SCHEMA, "trajectories": TRAJECTORY_SCHEMA, "items": ITEMS_SCHEMA,
          "steps": STEPS_SCHEMA}
