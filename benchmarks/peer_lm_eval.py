"""Run EleutherAI lm-evaluation-harness's ``crows_pairs_english`` offline, as a timed peer.

The benchmark compares our CrowS-Pairs metric with lm-eval's on the same local model and the
same local CSV. lm-eval lives in its own virtual environment (``peer_lm_eval_setup.sh``), so
this module imports neither torch nor lm_eval: it fills in the task template in
``peer_tasks/``, runs the ``lm_eval`` CLI of that venv as a subprocess, times it, and reads
the results JSON lm-eval writes.

Offline: the built-in task loads a Hub dataset; the template swaps only its data source for
the local CSV (``csv`` builder) and keeps everything else by ``include``-ing lm-eval's own
task file. The Hub, datasets and transformers are forced offline in the child's environment.
"""

from __future__ import annotations

import json
import os
import shlex
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TASK = "crows_pairs_english_local"
_TEMPLATE = Path(__file__).resolve().parent / "peer_tasks" / f"{TASK}.yaml.tmpl"
_OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _site_packages(venv: Path) -> Path:
    """The venv's site-packages (found by glob, so that no interpreter has to start)."""
    found = sorted(venv.absolute().glob("lib/python3*/site-packages"))
    if not found:
        raise FileNotFoundError(f"no site-packages under {venv}; run peer_lm_eval_setup.sh")
    return found[-1]


def lm_eval_version(venv: Path) -> str:
    """The lm_eval release installed in ``venv``, read from its dist-info folder name."""
    dists = sorted(_site_packages(venv).glob("lm_eval-*.dist-info"))
    if not dists:
        raise FileNotFoundError(f"lm_eval is not installed in {venv}")
    return dists[-1].name.removeprefix("lm_eval-").removesuffix(".dist-info")


def write_task(venv: Path, csv: Path, directory: Path) -> Path:
    """Write the filled-in task yaml into ``directory`` (the ``--include_path``); return it.

    The include target is the venv's own ``crows_pairs_english.yaml``, so the prompt, choices,
    process_results and metrics are exactly those of the installed lm-eval release.
    """
    builtin = _site_packages(venv) / "lm_eval/tasks/crows_pairs/crows_pairs_english.yaml"
    if not builtin.is_file():
        raise FileNotFoundError(builtin)
    text = string.Template(_TEMPLATE.read_text()).substitute(
        lm_eval_task_yaml=json.dumps(str(builtin)), csv=json.dumps(str(csv.resolve()))
    )
    path = directory / f"{TASK}.yaml"
    path.write_text(text)
    return path


def _child_env(scratch: Path) -> dict[str, str]:
    """The caller's environment, offline, with a throwaway datasets cache.

    A fresh cache keeps runs alike (the CSV is parsed every time) and leaves nothing behind.
    Threads (OMP_NUM_THREADS) are the caller's to set, as for our own scorer.
    """
    return {**os.environ, **_OFFLINE, "HF_DATASETS_CACHE": str(scratch / "hf-datasets")}


def run_lm_eval_crows(
    venv: Path,
    model_dir: Path,
    csv: Path,
    batch_size: int = 16,
    limit: int | None = None,
    device: str = "cpu",
    prefix_token_id: int | None = None,
) -> dict[str, Any]:
    """Run lm-eval's CrowS-Pairs (English) on ``model_dir`` and ``csv``; time the subprocess.

    Returns ``seconds`` (wall clock of the whole ``lm_eval`` process: interpreter start,
    imports, model load, data load and scoring), ``lm_eval_seconds`` (lm-eval's own
    ``total_evaluation_time_seconds`` from its results JSON, when present), ``pct_stereotype``
    (share of pairs whose sent_more gets the higher log-likelihood, 0-1 as lm-eval reports it),
    ``likelihood_diff`` (mean absolute log-likelihood difference, nats), ``n`` (documents
    scored), ``version`` (lm_eval release) and ``command`` (the command line, shell-quoted).

    ``prefix_token_id``: lm-eval scores each sentence after one token, by default the
    tokenizer's BOS (``<|im_start|>``, id 1, for SmolLM2), where our scorer uses
    ``<|endoftext|>`` (id 0) because that BOS is a chat marker. None runs lm-eval as shipped;
    an id is passed as its ``prefix_token_id`` model argument, to compare like with like.
    """
    with tempfile.TemporaryDirectory(prefix="peer-lm-eval-") as tmp:
        scratch = Path(tmp)
        tasks_dir = scratch / "tasks"
        tasks_dir.mkdir()
        write_task(venv, csv, tasks_dir)
        out_dir = scratch / "out"
        model_args = f"pretrained={model_dir.resolve()},dtype=float32"
        if prefix_token_id is not None:
            model_args += f",prefix_token_id={prefix_token_id}"
        command = [
            str(venv.absolute() / "bin" / "lm_eval"),
            "--model", "hf",
            "--model_args", model_args,
            "--tasks", TASK,
            "--include_path", str(tasks_dir),
            "--batch_size", str(batch_size),
            "--device", device,
            "--output_path", str(out_dir),
        ]  # fmt: skip
        if limit is not None:
            command += ["--limit", str(limit)]
        start = time.perf_counter()
        proc = subprocess.run(command, env=_child_env(scratch), capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr)[-4000:]
            raise RuntimeError(f"lm_eval exited {proc.returncode}:\n{tail}")
        files = sorted(out_dir.rglob("results_*.json"))
        if not files:
            raise RuntimeError(f"lm_eval wrote no results JSON under {out_dir}")
        report = json.loads(files[-1].read_text())
    metrics = report["results"][TASK]
    n_samples = report.get("n-samples", {}).get(TASK, {})
    lm_seconds = report.get("total_evaluation_time_seconds")
    return {
        "seconds": seconds,
        "lm_eval_seconds": float(lm_seconds) if lm_seconds is not None else None,
        "pct_stereotype": float(metrics["pct_stereotype,none"]),
        "likelihood_diff": float(metrics["likelihood_diff,none"]),
        "n": int(n_samples.get("effective", n_samples.get("original", 0))),
        "version": str(report.get("lm_eval_version") or lm_eval_version(venv)),
        "command": shlex.join(command),
    }


_COUNT = """
import sys
from lm_eval.tasks import TaskManager
task = TaskManager(include_path=sys.argv[1]).load([sys.argv[2]])["tasks"][sys.argv[2]]
docs = list(task.eval_docs)
assert all(d["sent_more"] and d["sent_less"] for d in docs), "empty sentence in the CSV"
print(len(docs))
"""


def count_docs(venv: Path, csv: Path) -> int:
    """How many documents lm-eval's task sees in ``csv``, loaded by lm-eval itself, no model."""
    with tempfile.TemporaryDirectory(prefix="peer-lm-eval-") as tmp:
        scratch = Path(tmp)
        write_task(venv, csv, scratch)
        proc = subprocess.run(
            [str(venv.absolute() / "bin" / "python"), "-c", _COUNT, str(scratch), TASK],
            env=_child_env(scratch),
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"counting documents failed:\n{proc.stderr[-4000:]}")
    return int(proc.stdout.strip().splitlines()[-1])


if __name__ == "__main__":  # python benchmarks/peer_lm_eval.py VENV MODEL_DIR CSV [LIMIT [PREFIX_ID]]
    venv_arg, model_arg, csv_arg = (Path(a) for a in sys.argv[1:4])
    limit_arg = int(sys.argv[4]) if len(sys.argv) > 4 else None
    prefix_arg = int(sys.argv[5]) if len(sys.argv) > 5 else None
    result = run_lm_eval_crows(venv_arg, model_arg, csv_arg, limit=limit_arg, prefix_token_id=prefix_arg)
    print(json.dumps(result, indent=2))
