"""``debiasbench export lm-eval``: StereoSet and CrowS-Pairs as lm-evaluation-harness task yamls.

The yamls read the data folder's own files (absolute paths, nothing downloaded) and score as the
toolkit's metrics do; the scoring itself is in ``lm_eval_task_utils.py``, copied beside them as
``utils.py``. Writing needs no lm-eval: only running the tasks does. docs/lm-eval-export.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from debiasbench import __version__
from debiasbench.cli.lm_eval_task_utils import CROWS_DOMAINS, STEREOSET_DOMAINS
from debiasbench.data.locator import DataLocator
from debiasbench.errors import DebiasbenchError
from debiasbench.plugin_system.registry import Registry
from debiasbench.runtime.atomic import atomic_dir, write_text_atomic
from debiasbench.runtime.paths import data_dir as default_data_dir

UTILS_SOURCE = Path(__file__).with_name("lm_eval_task_utils.py")
UTILS_NAME = "utils.py"
GROUP_TAG = "debiasbench"


@dataclass(frozen=True)
class ExportTask:
    """One lm-eval task: its name, the data set whose file it reads and how it scores."""

    task: str
    dataset: str  # the registered data set whose first file the task reads
    builder: str  # datasets builder of that file (json | csv)
    custom_dataset: str  # utils function that reads the file and counts tokens
    process_results: str
    metrics: tuple[tuple[str, str, bool], ...]  # (metric, aggregation, higher_is_better)
    tags: tuple[str, ...]


_STEREOSET_METRICS = tuple(
    (f"{name}{suffix}", f"!function utils.{name}", higher)
    for suffix in ("", *(f"_{d}" for d in STEREOSET_DOMAINS))
    for name, higher in (("ss", False), ("lms", True), ("icat", True))
) + (("margin", "mean", False),)
_CROWS_METRICS = (("score", "mean", False), ("stereo", "mean", False), ("antistereo", "mean", False),
                  *((f"score_{d}", "mean", False) for d in CROWS_DOMAINS), ("margin", "mean", False))

INSTRUMENTS: dict[str, tuple[ExportTask, ...]] = {
    "stereoset": tuple(
        ExportTask(f"debiasbench_stereoset_{short}", "stereoset", "json", f"stereoset_{task}", "process_stereoset",
                   _STEREOSET_METRICS, (GROUP_TAG, "debiasbench_stereoset"))
        for short, task in (("intra", "intrasentence"), ("inter", "intersentence"))
    ),
    "crows-pairs": (ExportTask("debiasbench_crows_pairs", "crows-pairs", "csv", "crows_pairs", "process_crows", _CROWS_METRICS,
                               (GROUP_TAG,)),),
}
"""The instruments ``--instruments`` may name, and the tasks each writes."""
ALIASES = {"crows": "crows-pairs"}
ALL_FILES = frozenset({UTILS_NAME, *(f"{t.task}.yaml" for tasks in INSTRUMENTS.values() for t in tasks)})


def task_yaml(task: ExportTask, data_file: Path) -> str:
    """The task's yaml: the data folder's file, the prefix-and-options prompt, per-document results, the aggregations."""
    metrics = "".join(f"  - metric: {name}\n    aggregation: {agg}\n    higher_is_better: {str(higher).lower()}\n"
                      for name, agg, higher in task.metrics)
    return (
        f"# Written by `debiasbench export lm-eval` (debiasbench {__version__}); docs/lm-eval-export.md.\n"
        "# Reproduces the toolkit's figures: mean log-probability per token after the scoring prefix token,\n"
        "# counted and aggregated by utils.py. The data file is read where it lies (nothing is downloaded).\n"
        f"task: {task.task}\n"
        f"tag: [{', '.join(task.tags)}]\n"
        f"dataset_path: {task.builder}\n"
        "dataset_kwargs:\n"
        "  data_files:\n"
        f"    test: {json.dumps(str(data_file))}\n"
        f"custom_dataset: !function utils.{task.custom_dataset}\n"
        "test_split: test\n"
        "output_type: multiple_choice\n"
        "num_fewshot: 0\n"
        "doc_to_text: !function utils.doc_to_text\n"
        "doc_to_choice: !function utils.doc_to_choice\n"
        "doc_to_target: 0\n"
        'target_delimiter: ""\n'
        f"process_results: !function utils.{task.process_results}\n"
        f"metric_list:\n{metrics}"
        "metadata:\n"
        "  version: 1.0\n"
    )


def resolve_instruments(names: list[str]) -> list[str]:
    """Canonical instrument names, in the order given; an unknown one is one line."""
    out = []
    for name in names:
        canonical = ALIASES.get(name.strip(), name.strip())
        if canonical not in INSTRUMENTS:
            raise DebiasbenchError(f"unknown instrument {name!r} for export lm-eval; choose from {', '.join(INSTRUMENTS)}")
        if canonical not in out:
            out.append(canonical)
    if not out:
        raise DebiasbenchError(f"no instrument to export; choose from {', '.join(INSTRUMENTS)}")
    return out


def data_files(instruments: list[str], data_dir: Path | None, registry: Registry) -> dict[str, Path]:
    """Each exported data set's file in the data folder, checked against its published checksum."""
    folder = default_data_dir(data_dir)
    if folder is None:
        raise DebiasbenchError("export lm-eval reads the data folder: set --data-dir or DEBIASBENCH_DATA")
    if not folder.is_dir():
        raise DebiasbenchError(f"data folder {folder} (--data-dir / DEBIASBENCH_DATA) does not exist")
    locator = DataLocator(folder, download=False)
    found: dict[str, Path] = {}
    for task in (t for name in instruments for t in INSTRUMENTS[name]):
        if task.dataset in found:
            continue
        file = registry.eval_dataset(task.dataset).files[0]
        path = folder / file.relpath
        if not path.is_file():
            raise DebiasbenchError(f"data folder {folder} has no {file.relpath}, which the {task.dataset} tasks read; "
                                   "point --data-dir / DEBIASBENCH_DATA at the folder that holds it")
        found[task.dataset] = locator.path(file).resolve()  # the data folder's copy, its checksum verified
    return found


def planned_files(instruments: list[str], files: dict[str, Path]) -> dict[str, str]:
    """File name -> text of everything the export writes."""
    out = {UTILS_NAME: UTILS_SOURCE.read_text(encoding="utf-8")}
    for name in instruments:
        for task in INSTRUMENTS[name]:
            out[f"{task.task}.yaml"] = task_yaml(task, files[task.dataset])
    return out


def check_target(directory: Path, overwrite: bool) -> None:
    """A new or empty folder, or a non-empty one with ``--overwrite``."""
    if directory.exists() and not directory.is_dir():
        raise DebiasbenchError(f"{directory} exists and is not a folder; give a folder for the task files")
    if directory.is_dir() and any(directory.iterdir()) and not overwrite:
        raise DebiasbenchError(f"{directory} is not empty; pass --overwrite to replace the task files in it, or give a new folder")


def write_files(directory: Path, files: dict[str, str]) -> list[Path]:
    """Write ``files`` into ``directory``: a new folder appears whole; into an existing one each file
    is replaced atomically and task files of an earlier export that this one does not write are removed."""
    if not directory.is_dir() or not any(directory.iterdir()):
        with atomic_dir(directory) as tmp:
            for name, text in files.items():
                (tmp / name).write_text(text, encoding="utf-8")
    else:
        for name, text in files.items():
            write_text_atomic(directory / name, text)
        for stale in ALL_FILES - set(files):
            (directory / stale).unlink(missing_ok=True)
    return [directory / name for name in files]


def export_lm_eval(directory: Path, instruments: list[str], data_dir: Path | None, overwrite: bool, registry: Registry) -> list[Path]:
    """Validate everything, then write the task files; returns their paths."""
    chosen = resolve_instruments(instruments)
    check_target(directory, overwrite)
    files = planned_files(chosen, data_files(chosen, data_dir, registry))
    return write_files(directory, files)
