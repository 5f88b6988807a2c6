"""lm-evaluation-harness task folders for the lm-eval:TASK tests, written into a test's temporary folder.

They mirror benchmarks/peer_tasks/: each yaml ``include``s lm-eval's own installed task definition whole
(``blimp/_template_yaml``, ``lambada/lambada_openai.yaml``) and swaps only the data source for a local JSON-lines
file, so the task is lm-eval's BLiMP paradigm or LAMBADA (OpenAI) on exactly the lines given, offline.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any


def lm_eval_tasks_dir() -> Path:
    """lm-eval's installed ``tasks`` folder (found without importing lm-eval)."""
    spec = importlib.util.find_spec("lm_eval")
    assert spec is not None and spec.submodule_search_locations, "lm_eval is not installed"
    return Path(list(spec.submodule_search_locations)[0]) / "tasks"


def _write(folder: Path, task: str, include: Path, data: Path, split: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{task}.yaml"
    path.write_text("\n".join([
        f"include: {json.dumps(str(include))}", f"task: {task}", "tag: []", "dataset_path: json", "dataset_name: null",
        "dataset_kwargs:", "  data_files:", f"    {split}: {json.dumps(str(data))}", f"{split_key(split)}: {split}", "",
    ]), encoding="utf-8")
    return path


def split_key(split: str) -> str:
    return "validation_split" if split == "train" else "test_split"


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def blimp_task(folder: Path, task: str, lines: list[str]) -> Path:
    """A ``blimp_<UID>``-like task over BLiMP JSON lines (``sentence_good``, ``sentence_bad``, ...)."""
    data = write_lines(folder / "data" / f"{task}.jsonl", lines)
    return _write(folder, task, lm_eval_tasks_dir() / "blimp" / "_template_yaml", data, "train")


def lambada_task(folder: Path, task: str, lines: list[str]) -> Path:
    """A ``lambada_openai``-like task over LAMBADA JSON lines (``{"text": ...}``)."""
    data = write_lines(folder / "data" / f"{task}.jsonl", lines)
    return _write(folder, task, lm_eval_tasks_dir() / "lambada" / "lambada_openai.yaml", data, "test")


def blimp_pair(good: str, bad: str, pair_id: int, uid: str = "tiny_paradigm") -> str:
    row: dict[str, Any] = {"sentence_good": good, "sentence_bad": bad, "field": "morphology", "UID": uid, "pairID": str(pair_id)}
    return json.dumps(row)
