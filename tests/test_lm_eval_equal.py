"""``lm-eval:TASK`` on the embedded model equals both the standalone ``lm_eval`` command on the same model saved
to a folder and the toolkit's own ``blimp`` / ``lambada`` metrics, on the same items: a BLiMP paradigm's and
LAMBADA's seeded subsets (the toolkit's ``--eval-limit`` draw), written to local files that task yamls mirroring
benchmarks/peer_tasks/ read (tests/lm_eval_tasks.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("lm_eval")

from debiasbench.api import EvalContext  # noqa: E402
from debiasbench.data.locator import DataLocator  # noqa: E402
from debiasbench.plugin_system.loader import get_registry  # noqa: E402
from debiasbench.testing import evaluate_metric  # noqa: E402
from tests.lm_eval_tasks import blimp_task, lambada_task  # noqa: E402

pytestmark = pytest.mark.slow

UID, PAIRS, PASSAGES = "anaphor_gender_agreement", 20, 10


def _rows(result: Any) -> dict[str, float]:
    return {f"{r.measure}|{r.domain}": r.value for r in result.rows}


def _model_folder(handle: Any, cache: Path) -> Path:
    """The Hugging Face folder the embedded GGUF was converted into (what ``lm_eval --model hf`` loads)."""
    found = sorted((cache / "models").glob(f"{handle.name}-*/config.json"))
    assert found, f"no converted folder of {handle.name} under {cache}"
    return found[0].parent


def test_lm_eval_metric_equals_lm_eval_command_and_toolkit_metrics(embedded_model: Any, data_dir: Path,
                                                                    session_cache: Path, tmp_path: Path) -> None:
    registry = get_registry()
    data = DataLocator(data_dir, download=False)
    # the toolkit's own metrics on their seeded subsets (what --eval-limit draws)
    blimp = registry.metric("blimp")
    ours_blimp = evaluate_metric(blimp, embedded_model, EvalContext(data=data, registry=registry, limit=PAIRS, seed=0,
                                                                     save_examples=True), blimp.Options(paradigms=(UID,)))
    lambada = registry.metric("lambada")
    ours_lambada = evaluate_metric(lambada, embedded_model, EvalContext(data=data, registry=registry, limit=PASSAGES, seed=0,
                                                                        save_examples=True), lambada.Options())
    # the same lines, unchanged and in file order, as local lm-eval tasks
    chosen = {e["item"].split("/", 1)[1] for e in ours_blimp.examples.to_pylist()}
    blimp_lines = [ln for ln in (data_dir / "blimp" / f"{UID}.jsonl").read_text(encoding="utf-8").splitlines()
                   if ln.strip() and str(json.loads(ln)["pairID"]) in chosen]
    passages = sorted(int(e["item"]) for e in ours_lambada.examples.to_pylist())
    all_passages = [ln for ln in (data_dir / "lambada" / "lambada_test.jsonl").read_text(encoding="utf-8").splitlines() if ln.strip()]
    tasks = tmp_path / "tasks"
    blimp_task(tasks, "blimp_local", blimp_lines)
    lambada_task(tasks, "lambada_local", [all_passages[i] for i in passages])
    assert len(blimp_lines) == PAIRS and len(passages) == PASSAGES

    # in-process, on the loaded model
    ctx = EvalContext(data=data, registry=registry, seed=0)
    mine = {}
    for task in ("blimp_local", "lambada_local"):
        metric = registry.build_metric(f"lm-eval:{task}", tasks).obj
        result = evaluate_metric(metric, embedded_model, ctx, metric.Options(bootstrap_iters=0))
        mine[task] = (_rows(result), result)
    assert mine["blimp_local"][1].protocol["prefix_token_id"] == embedded_model.prefix_token_id

    # (b) the toolkit's metrics on the same items: the same figures, item by item
    acc = mine["blimp_local"][0]["lm-eval:blimp_local.acc|all"]
    assert 100.0 * acc == pytest.approx(_rows(ours_blimp)[f"blimp.accuracy|{UID}"], abs=1e-9)
    decisions = {e["item"].split("/", 1)[1]: e["correct"] for e in ours_blimp.examples.to_pylist()}
    docs = [i for i in mine["blimp_local"][1].items.to_pylist() if i["measure"] == "lm-eval:blimp_local.acc"]
    assert [bool(d["decision"]) for d in sorted(docs, key=lambda d: int(d["item"]))] == [
        decisions[str(json.loads(ln)["pairID"])] for ln in blimp_lines]
    lam = mine["lambada_local"][0]
    assert 100.0 * lam["lm-eval:lambada_local.acc|all"] == pytest.approx(_rows(ours_lambada)["lambada.accuracy|all"], abs=1e-9)
    assert lam["lm-eval:lambada_local.perplexity|all"] == pytest.approx(_rows(ours_lambada)["lambada.perplexity|all"], rel=1e-5)

    # (a) the standalone lm_eval command on the same model saved to a folder
    folder = _model_folder(embedded_model, session_cache)
    out = tmp_path / "lm_eval_out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={folder},dtype=float32,prefix_token_id={embedded_model.prefix_token_id}",
                           "--include_path", str(tasks), "--tasks", "blimp_local,lambada_local", "--batch_size", "16",
                           "--device", "cpu", "--output_path", str(out)],
                          capture_output=True, text=True, env=env, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    theirs = json.loads(sorted(out.rglob("results_*.json"))[-1].read_text())["results"]
    assert mine["blimp_local"][0]["lm-eval:blimp_local.acc|all"] == pytest.approx(theirs["blimp_local"]["acc,none"], rel=1e-12)
    assert lam["lm-eval:lambada_local.acc|all"] == pytest.approx(theirs["lambada_local"]["acc,none"], rel=1e-12)
    assert lam["lm-eval:lambada_local.perplexity|all"] == pytest.approx(theirs["lambada_local"]["perplexity,none"], rel=1e-9)
