"""lm-evaluation-harness, seen from the toolkit: is it installed, which tasks exist, what a task measures.

Everything here asks lm-eval itself (its ``TaskManager`` index and its ``Task`` objects), so a task means
exactly what ``lm_eval --tasks NAME --include_path DIR`` would run. Task managers are cached per process and
include folder: building lm-eval's index of its ~15,000 task yamls takes seconds, and a run plans (with its
checks) and evaluates with the same one.
"""

from __future__ import annotations

import difflib
import importlib.util
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from debiasbench.api import DebiasbenchError, UnknownNameError

EXTRA = "debiasbench-metrics[lm-eval]"
"""The pip extra that installs lm-evaluation-harness beside the toolkit (pinned in the plugin's pyproject)."""

FEWSHOT_SEED = 1234
"""lm-eval's default ``fewshot_random_seed`` (``simple_evaluate``): the same few-shot examples as its command."""

AGGREGATES: dict[str, str] = {"mean": "mean", "perplexity": "exp-ratio", "weighted_perplexity": "exp-ratio",
                              "bits_per_byte": "ratio"}
"""lm-eval aggregation (its function's name) -> the core's aggregate over per-document rows (see :func:`item_value`).
Any other aggregation (f1, mcc, bleu, ...) does not decompose into per-document values: the task's row stands alone."""


def require_lm_eval() -> None:
    """One line naming the extra when lm-eval is not installed (checked without importing it)."""
    if importlib.util.find_spec("lm_eval") is None:
        raise DebiasbenchError(f"lm-eval metrics need lm-evaluation-harness, which is not installed; "
                               f"pip install '{EXTRA}' (or: pip install lm_eval==0.4.13)")


@lru_cache(maxsize=8)
def task_manager(include: str | None, defaults: bool = True) -> Any:
    """lm-eval's ``TaskManager`` over its own tasks (``defaults``) and the ``include`` folder's."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=include, include_defaults=defaults)


def check_task(task: str, include: Path | None) -> Any:
    """The task manager that knows the single lm-eval task ``task``: the include folder's alone when it defines
    the task (its index is small; the folder wins in lm-eval too, so the task is the same), else lm-eval's own
    tasks with the folder's. An unknown name (did-you-mean from the folder's tasks and lm-eval's task list), a
    group or a tag is one line."""
    if include is not None:
        local = task_manager(str(include), False)
        entry = local.task_index.get(task)
        if entry is not None:
            return _leaf(task, entry, local)
        close = difflib.get_close_matches(task, local.all_tasks, n=3, cutoff=0.8)
        if close:  # a typo of one of the folder's tasks, found without building lm-eval's whole index
            raise _unknown(task, include, close)
    manager = task_manager(str(include) if include is not None else None, True)
    entry = manager.task_index.get(task)
    if entry is None:
        raise _unknown(task, include, difflib.get_close_matches(task, manager.all_tasks, n=3, cutoff=0.6))
    return _leaf(task, entry, manager)


def _leaf(task: str, entry: Any, manager: Any) -> Any:
    """``manager`` when ``entry`` is a single task; a group or a tag is refused with the names of its tasks."""
    from lm_eval.tasks._index import Kind

    if entry.kind in (Kind.TASK, Kind.PY_TASK):
        return manager
    members = sorted(n for n, e in manager.task_index.items() if task in e.tags) if entry.kind == Kind.TAG else [
        t if isinstance(t, str) else str(t.get("task", "?")) for t in (entry.cfg or {}).get("task", [])]
    shown = ",".join(f"lm-eval:{m}" for m in members[:3]) + (",..." if len(members) > 3 else "")
    raise DebiasbenchError(f"lm-eval:{task} is a {entry.kind.name.lower()} of {len(members)} tasks; name its tasks "
                           f"one by one, e.g. --metrics {shown} (docs/lm-eval.md)")


def _unknown(task: str, include: Path | None, close: list[str]) -> UnknownNameError:
    hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else "see `lm_eval ls tasks`"
    where = f" or in --lm-eval-include {include}" if include is not None else ""
    return UnknownNameError(f"unknown lm-eval task {task!r} (not among lm-eval's tasks{where}); {hint}")


def load_task(task: str, include: Path | None) -> Any:
    """lm-eval's ``Task`` object (its documents read); a failure (data not reachable offline...) is one line."""
    manager = check_task(task, include)
    try:
        return manager.load([task])["tasks"][task]
    except Exception as exc:  # noqa: BLE001 - lm-eval and datasets raise anything; the user needs one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DebiasbenchError(f"lm-eval task {task!r} cannot be loaded: {first}") from None


@dataclass(frozen=True)
class TaskMeasure:
    """One figure of a task: lm-eval's metric under one filter, its direction and how items make it."""

    metric: str  # lm-eval's metric name (acc, acc_norm, perplexity, ...)
    filter: str  # lm-eval's filter name ("none" unless the task declares filters)
    higher_is_better: bool
    aggregation: str  # lm-eval's aggregation function's name
    aggregate: str | None  # the core's aggregate, None where the figure does not decompose per document

    @property
    def key(self) -> str:
        """lm-eval's result key, ``acc,none``."""
        return f"{self.metric},{self.filter}"

    @property
    def suffix(self) -> str:
        """The measure name's tail: ``acc``, or ``acc@strict-match`` for a filter other than ``none``."""
        return self.metric if self.filter == "none" else f"{self.metric}@{self.filter}"


def task_measures(task: Any) -> list[TaskMeasure]:
    """What lm-eval reports for ``task``: each metric under each filter, in the task's order."""
    aggregation = task.aggregation()
    better = task.higher_is_better()
    filters = [f["name"] for f in task.config.filter_list] if task.config.filter_list else ["none"]
    out = []
    for metric, function in aggregation.items():
        name = getattr(function, "__name__", str(function))
        for filter_name in filters:
            out.append(TaskMeasure(metric, filter_name, better.get(metric) is not False, name, AGGREGATES.get(name)))
    return out


def item_value(measure: TaskMeasure, raw: Any) -> tuple[float, float | None]:
    """One document's (value, weight) whose core aggregate equals lm-eval's aggregation of the documents:
    ``mean`` of the values; perplexity ``exp(sum(-ll) / n)``; weighted perplexity ``exp(sum(-ll) / sum(units))``;
    bits per byte ``sum(-ll / ln 2) / sum(bytes)``."""
    if measure.aggregation == "mean":
        return float(raw), None
    if measure.aggregation == "perplexity":
        return -float(raw), 1.0
    ll, units = raw
    if measure.aggregation == "weighted_perplexity":
        return -float(ll), float(units)
    return -float(ll) / math.log(2), float(units)  # bits_per_byte
