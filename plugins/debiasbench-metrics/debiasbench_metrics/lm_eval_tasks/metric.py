"""One lm-evaluation-harness task as a metric, ``lm-eval:<task>``, run in-process on the loaded model.

The loaded model and tokenizer are wrapped in lm-eval's ``HFLM`` (no second load, nothing written) and the task
runs through ``lm_eval.evaluator.evaluate`` with ``log_samples``: lm-eval's own requests, scoring, filters and
figures. Each figure becomes a utility measure ``lm-eval:<task>.<metric>`` (``@<filter>`` for a filter other than
``none``), its direction from lm-eval's ``higher_is_better``, on domain ``all``. Where lm-eval's aggregation is a
mean, a perplexity or bits per byte, every document is an item (id = lm-eval's ``doc_id``, its position in the
task's evaluation split) whose value the core aggregates back to lm-eval's figure (the core checks they agree), so
before and after are paired on documents like any metric's items; ``ctx.subset`` picks the documents (``--eval-limit``,
the quick preset) and lm-eval is given exactly those (its ``samples``). lm-eval's own stderr is a second measure,
``<measure>_stderr``. ``evaluate`` is called, not ``simple_evaluate``: the latter reseeds Python, numpy and torch
globally, which would change the training that follows in a run; few-shot examples use lm-eval's default seed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from debiasbench.api import (
    OVERALL,
    EvalContext,
    MeasureSpec,
    Metric,
    MetricResult,
    MetricRow,
    ModelHandle,
    PresetValues,
    concat_items,
    item_rows,
)
from debiasbench.api.data import sha256_file
from debiasbench_metrics.lm_eval_tasks.options import LmEvalOptions
from debiasbench_metrics.lm_eval_tasks.harness import FEWSHOT_SEED, TaskMeasure, item_value, load_task, task_measures

QUICK_DOCS = 100
"""Documents per task in the quick preset (a seeded subset, the same in every run)."""


class LmEvalTaskMetric(Metric):
    """An lm-evaluation-harness task (built by :class:`~debiasbench_metrics.lm_eval_tasks.family.LmEvalFamily`)."""

    Options: ClassVar[type] = LmEvalOptions
    presets: ClassVar[Mapping[str, PresetValues]] = {"quick": PresetValues(limit=QUICK_DOCS), "full": PresetValues()}

    def __init__(self, family: str, task_name: str, task: Any, include: Path | None) -> None:
        self.task_name = task_name
        self.name = f"{family}:{self.task_name}"  # type: ignore[misc]  # a built metric's name is per instance
        self.include = include
        self.task_measures = task_measures(task)
        self.output_type: str = task.config.output_type
        self.task_config = json.loads(json.dumps(task.dump_config(), default=str))
        self.description = (f"lm-evaluation-harness task {self.task_name} ({self.output_type}): "  # type: ignore[misc]
                            + ", ".join(m.suffix for m in self.task_measures) + "; a utility measure")
        first = True
        specs = []
        for m in self.task_measures:
            what = f"lm-eval's {m.metric} ({m.aggregation}, filter {m.filter}) on {self.task_name}"
            better = "higher" if m.higher_is_better else "lower"
            specs.append(MeasureSpec(self.measure(m), None, better, what, headline=first, aggregate=m.aggregate, utility=True))  # type: ignore[arg-type]
            specs.append(MeasureSpec(self.measure(m) + "_stderr", None, "lower", f"lm-eval's stderr of {self.measure(m)}",
                                     utility=True))
            first = False
        self.measures = tuple(specs)  # type: ignore[misc]

    def measure(self, m: TaskMeasure) -> str:
        return f"{self.name}.{m.suffix}"

    def protocol_key(self, ctx: EvalContext, options: Any) -> dict[str, Any]:
        """The task's config and the checksums of the local files it reads: a data file edited in place
        (same path, same config) must not hit a cached baseline."""
        return {**super().protocol_key(ctx, options), "task_config": self.task_config,
                "local_data": local_data_checksums(self.task_config)}

    def evaluate(self, model: ModelHandle, ctx: EvalContext, options: Any) -> MetricResult:
        import lm_eval
        from lm_eval.evaluator import evaluate
        from lm_eval.models.huggingface import HFLM

        task = load_task(self.task_name, self.include)  # a fresh Task: lm-eval keeps requests and filters on it
        if options.num_fewshot is not None and task.get_config("num_fewshot") != 0:
            task.set_config(key="num_fewshot", value=options.num_fewshot)
        elif task.get_config("num_fewshot") is None:
            task.set_config(key="num_fewshot", value=0)  # as simple_evaluate does
        task.set_fewshot_seed(seed=FEWSHOT_SEED)
        total = len(task.eval_docs)
        chosen = sorted(int(i) for i in ctx.subset([OVERALL] * total, [OVERALL], self.name))
        samples = {self.task_name: chosen} if len(chosen) < total else None
        # the toolkit's prefix token (docs/concepts.md, "Protocols"): lm-eval's own pick is the tokenizer's BOS, a chat
        # marker in some instruct models; both agree wherever BOS is a plain beginning-of-text token
        lm = HFLM(pretrained=model.model, tokenizer=model.tokenizer, batch_size=options.batch_size,
                  prefix_token_id=model.prefix_token_id)
        out = evaluate(lm=lm, task_dict={"tasks": {self.task_name: task}, "groups": {}, "group_map": {}}, samples=samples,
                       bootstrap_iters=options.bootstrap_iters, log_samples=True)
        figures = out["results"][self.task_name]
        docs = out["samples"][self.task_name]
        rows, tables, stderr = [], [], {}
        for m in self.task_measures:
            value, err = figures.get(m.key), figures.get(f"{m.metric}_stderr,{m.filter}")
            mine = [d for d in docs if d["filter"] == m.filter]
            if isinstance(value, (int, float)):
                rows.append(MetricRow(OVERALL, self.measure(m), float(value), len(mine)))
            if isinstance(err, (int, float)):
                stderr[self.measure(m)] = float(err)
                rows.append(MetricRow(OVERALL, self.measure(m) + "_stderr", float(err), len(mine)))
            if m.aggregate is not None and mine:
                tables.append(doc_items(self.measure(m), m, mine))
        protocol = {
            "metric": self.name, "harness": "lm-evaluation-harness", "lm_eval_version": lm_eval.__version__,
            "task": self.task_name, "output_type": self.output_type, "include": str(self.include) if self.include else None,
            "num_fewshot": task.get_config("num_fewshot"), "fewshot_seed": FEWSHOT_SEED, "batch_size": options.batch_size,
            "bootstrap_iters": options.bootstrap_iters, "prefix_token_id": lm.prefix_token_id, "dtype": model.dtype,
            "docs_in_task": total, "docs": len(chosen), "stderr": stderr, "task_config": self.task_config,
            **ctx.subset_protocol(), "seed": ctx.seed,
        }
        return MetricResult(rows=rows, protocol=protocol, items=concat_items(tables))


_CHECKSUMS: dict[tuple[str, int, int], str] = {}
"""(path, size, mtime_ns) -> sha256, so a file is hashed once per process however often its key is asked for."""


def local_data_checksums(config: Mapping[str, Any]) -> dict[str, str]:
    """sha256 of every local file the task config names (``dataset_path`` and ``dataset_kwargs.data_files``, a folder's
    files included). A Hub data set is not local: its name and revision in the config are its key."""
    named: list[str] = [config["dataset_path"]] if isinstance(config.get("dataset_path"), str) else []
    files = (config.get("dataset_kwargs") or {}).get("data_files") if isinstance(config.get("dataset_kwargs"), Mapping) else None
    stack: list[Any] = [files]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            named.append(value)
        elif isinstance(value, Mapping):
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
    out: dict[str, str] = {}
    for name in named:
        path = Path(name).expanduser()
        candidates = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path] if path.is_file() else []
        for file in candidates:
            stat = file.stat()
            key = (str(file.resolve()), stat.st_size, stat.st_mtime_ns)
            if key not in _CHECKSUMS:
                _CHECKSUMS[key] = sha256_file(file)
            out[str(file)] = _CHECKSUMS[key]
    return out


def doc_items(measure: str, m: TaskMeasure, docs: list[dict[str, Any]]) -> Any:
    """Per-document rows of one measure (domain ``all``), keyed by lm-eval's ``doc_id``; a 0/1 figure also
    carries the decision (exact McNemar on paired changes)."""
    pairs = [item_value(m, d[m.metric]) for d in docs]
    values = np.array([v for v, _ in pairs], dtype=np.float64)
    weights = None if m.aggregate == "mean" else np.array([w for _, w in pairs], dtype=np.float64)
    binary = m.aggregate == "mean" and bool(np.isin(values, (0.0, 1.0)).all())
    return item_rows(measure, OVERALL, [str(d["doc_id"]) for d in docs], values, weight=weights,
                     decision=values == 1.0 if binary else None)
