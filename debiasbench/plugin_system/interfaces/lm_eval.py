"""What a metric declares to be exported as lm-evaluation-harness tasks (``debiasbench export lm-eval``).

A metric that lm-eval lacks, or scores differently, can ship task yamls that reproduce its figures inside
lm-eval: it names the tasks here and a Python file of lm-eval functions (data set readers,
``process_results``, aggregations). The core writes one yaml per task and copies the file beside them;
the metric's plugin owns every definition, so a third-party metric exports exactly as a first-party one
does (docs/lm-eval-export.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LmEvalTask:
    """One lm-eval task: its name, the data set whose file it reads and the functions it scores with.

    The functions live in the export's ``module`` (the yaml says ``!function <module>.<name>``)."""

    task: str
    dataset: str  # the registered EvalDataset whose first file the task reads (absolute path in the yaml)
    builder: str  # Hugging Face ``datasets`` builder of that file: json | csv | text | parquet
    custom_dataset: str  # the module's function that reads the file into documents
    process_results: str  # the module's per-document function
    metrics: tuple[tuple[str, str, bool], ...]  # (metric, aggregation: "mean" or "!function <module>.<fn>", higher_is_better)
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class LmEvalExport:
    """A metric's lm-eval tasks and the file of functions they call.

    ``source`` is copied as ``<module>.py`` beside the yamls and runs inside lm-eval, so it must import
    nothing from debiasbench (only the standard library and lm-eval's own dependencies). Metrics that
    share one file name the same ``module`` and ``source``; two different files under one name are refused."""

    module: str  # a Python identifier; the written file's stem
    source: Path
    tasks: tuple[LmEvalTask, ...]
    doc: str = ""  # one line on what the tasks reproduce (``export lm-eval --help`` and its output)
