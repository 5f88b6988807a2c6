"""``debiasbench export lm-eval``: every metric that declares lm-evaluation-harness tasks, as task yamls.

A metric declares its tasks and a file of lm-eval functions (``Metric.lm_eval``, an
:class:`~debiasbench.plugin_system.interfaces.LmEvalExport`); this module names no metric. It
writes one yaml per task, reading the data folder's own file (absolute path, nothing downloaded),
and copies each functions file beside them. Writing needs no lm-eval: only running the tasks does.
docs/lm-eval-export.md.
"""

from __future__ import annotations

import json
from pathlib import Path

from debiasbench import __version__
from debiasbench.data.locator import DataLocator
from debiasbench.errors import DebiasbenchError
from debiasbench.plugin_system.interfaces import LmEvalExport, LmEvalTask
from debiasbench.plugin_system.registry import Registry
from debiasbench.runtime.atomic import atomic_dir, write_text_atomic
from debiasbench.runtime.paths import data_dir as default_data_dir

HEADER = "# Written by `debiasbench export lm-eval`"
"""The first line of every file the export writes: a later export into the folder removes only such files."""


def exportable(registry: Registry) -> dict[str, LmEvalExport]:
    """Metric name -> its lm-eval export, for every registered metric that declares one."""
    return {entry.name: entry.obj.lm_eval for entry in registry.entries("metric")
            if isinstance(getattr(entry.obj, "lm_eval", None), LmEvalExport)}


def task_yaml(task: LmEvalTask, export: LmEvalExport, data_file: Path) -> str:
    """The task's yaml: the data folder's file, the metric's prompt functions, per-document results, the aggregations."""
    function = f"!function {export.module}."
    metrics = "".join(f"  - metric: {name}\n    aggregation: {agg}\n    higher_is_better: {str(higher).lower()}\n"
                      for name, agg, higher in task.metrics)
    return (
        f"{HEADER} (debiasbench {__version__}); docs/lm-eval-export.md.\n"
        f"# {export.doc or task.task}; functions in {export.module}.py.\n"
        "# The data file is read where it lies (nothing is downloaded).\n"
        f"task: {task.task}\n"
        f"tag: [{', '.join(task.tags)}]\n"
        f"dataset_path: {task.builder}\n"
        "dataset_kwargs:\n"
        "  data_files:\n"
        f"    test: {json.dumps(str(data_file))}\n"
        f"custom_dataset: {function}{task.custom_dataset}\n"
        "test_split: test\n"
        "output_type: multiple_choice\n"
        "num_fewshot: 0\n"
        f"doc_to_text: {function}doc_to_text\n"
        f"doc_to_choice: {function}doc_to_choice\n"
        "doc_to_target: 0\n"
        'target_delimiter: ""\n'
        f"process_results: {function}{task.process_results}\n"
        f"metric_list:\n{metrics}"
        "metadata:\n"
        "  version: 1.0\n"
    )


def resolve_instruments(names: list[str], registry: Registry) -> dict[str, LmEvalExport]:
    """The chosen metrics' exports (names or aliases, in the order given; ``all``: every one); an unknown one is one line."""
    available = exportable(registry)
    if not available:
        raise DebiasbenchError("no installed metric declares lm-eval tasks; `debiasbench plugins` lists what is loaded")
    choices = ", ".join(available)
    out: dict[str, LmEvalExport] = {}
    for raw in (n.strip() for n in names):
        if raw == "all":
            out |= {k: v for k, v in available.items() if k not in out}
            continue
        entry = registry.find("metric", raw) if raw else None
        if entry is None or entry.name not in available:
            raise DebiasbenchError(f"no lm-eval export for instrument {raw!r}; choose from {choices} (or all)")
        out.setdefault(entry.name, available[entry.name])
    if not out:
        raise DebiasbenchError(f"no instrument to export; choose from {choices} (or all)")
    return out


def check_modules(exports: dict[str, LmEvalExport]) -> dict[str, Path]:
    """Functions file name -> its source; two metrics may share a file only if it is the same one."""
    modules: dict[str, Path] = {}
    for metric, export in exports.items():
        if not export.module.isidentifier():
            raise DebiasbenchError(f"metric {metric}'s lm-eval module name {export.module!r} is not a Python identifier; "
                                   "its plugin must name the functions file by one")
        if not export.source.is_file():
            raise DebiasbenchError(f"metric {metric}'s lm-eval functions file {export.source} is missing; reinstall its plugin")
        known = modules.setdefault(export.module, export.source)
        if known.resolve() != export.source.resolve():
            raise DebiasbenchError(f"two metrics export different lm-eval functions files as {export.module}.py "
                                   f"({known}, {export.source}); export them into separate folders")
    return modules


def data_files(exports: dict[str, LmEvalExport], data_dir: Path | None, registry: Registry) -> dict[str, Path]:
    """Each exported data set's file in the data folder, checked against its published checksum."""
    folder = default_data_dir(data_dir)
    if folder is None:
        raise DebiasbenchError("export lm-eval reads the data folder: set --data-dir or DEBIASBENCH_DATA")
    if not folder.is_dir():
        raise DebiasbenchError(f"data folder {folder} (--data-dir / DEBIASBENCH_DATA) does not exist")
    locator = DataLocator(folder, download=False)
    found: dict[str, Path] = {}
    for task in (t for export in exports.values() for t in export.tasks):
        if task.dataset in found:
            continue
        file = registry.eval_dataset(task.dataset).files[0]
        path = folder / file.relpath
        if not path.is_file():
            raise DebiasbenchError(f"data folder {folder} has no {file.relpath}, which the {task.dataset} tasks read; "
                                   "point --data-dir / DEBIASBENCH_DATA at the folder that holds it")
        found[task.dataset] = locator.path(file).resolve()  # the data folder's copy, its checksum verified
    return found


def planned_files(exports: dict[str, LmEvalExport], files: dict[str, Path]) -> dict[str, str]:
    """File name -> text of everything the export writes (functions files carry the header line too)."""
    out = {f"{module}.py": f"{HEADER}: a copy of {source.name} (debiasbench {__version__}).\n{source.read_text(encoding='utf-8')}"
           for module, source in check_modules(exports).items()}
    for export in exports.values():
        for task in export.tasks:
            out[f"{task.task}.yaml"] = task_yaml(task, export, files[task.dataset])
    return out


def check_target(directory: Path, overwrite: bool) -> None:
    """A new or empty folder, or a non-empty one with ``--overwrite``."""
    if directory.exists() and not directory.is_dir():
        raise DebiasbenchError(f"{directory} exists and is not a folder; give a folder for the task files")
    if directory.is_dir() and any(directory.iterdir()) and not overwrite:
        raise DebiasbenchError(f"{directory} is not empty; pass --overwrite to replace the task files in it, or give a new folder")


def _ours(path: Path) -> bool:
    """Whether ``path`` is a file an earlier export wrote (its first line is the header)."""
    try:
        with path.open(encoding="utf-8") as handle:
            return handle.readline().startswith(HEADER)
    except (OSError, UnicodeDecodeError):
        return False


def write_files(directory: Path, files: dict[str, str]) -> list[Path]:
    """Write ``files`` into ``directory``: a new folder appears whole; into an existing one each file
    is replaced atomically and files of an earlier export that this one does not write are removed
    (only files the export wrote: a user's own files stay)."""
    if not directory.is_dir() or not any(directory.iterdir()):
        with atomic_dir(directory) as tmp:
            for name, text in files.items():
                (tmp / name).write_text(text, encoding="utf-8")
    else:
        for name, text in files.items():
            write_text_atomic(directory / name, text)
        for stale in directory.iterdir():
            if stale.name not in files and stale.suffix in (".yaml", ".py") and stale.is_file() and _ours(stale):
                stale.unlink()
    return [directory / name for name in files]


def export_lm_eval(directory: Path, instruments: list[str], data_dir: Path | None, overwrite: bool, registry: Registry) -> list[Path]:
    """Validate everything, then write the task files; returns their paths."""
    chosen = resolve_instruments(instruments, registry)
    check_target(directory, overwrite)
    files = planned_files(chosen, data_files(chosen, data_dir, registry))
    return write_files(directory, files)
