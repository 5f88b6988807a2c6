"""Run lm-evaluation-harness's ``winogender`` offline on the shared schema files and compare it with ours.

lm-eval's task reads a Hub dataset (oskarvanderwal/winogender) that this machine cannot reach, so the
schema files are written in that dataset's layout (one row per sentence: ``sentid``, ``sentence``,
``pronoun``, ``occupation``, ``participant``, ``gender``, ``target``, ``label``, ``gotcha``) from the
toolkit's own reading of ``winogender/`` (pronoun from the template, gotcha against the BLS majority), and
lm-eval's installed ``winogender.yaml`` is included whole (``peer_tasks/winogender_local.yaml.tmpl``).
lm-eval logs every sample; the accuracy per pronoun gender and on the gotchas is taken from its own
per-sample ``acc``, and its two log-likelihoods per sentence are compared with our scores.

    python benchmarks/peer_winogender.py VENV MODEL MODEL_DIR DATA_DIR   (prints JSON)

MODEL is the toolkit's name for the model, MODEL_DIR its Hugging Face folder (the embedded model's
safetensors folder under the toolkit's cache); our prefix token is passed to lm-eval as ``prefix_token_id``.
"""

from __future__ import annotations

import csv
import json
import shlex
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer_lm_eval import _child_env, _site_packages, lm_eval_version  # noqa: E402

TASK = "winogender_local"
_TEMPLATE = Path(__file__).resolve().parent / "peer_tasks" / f"{TASK}.yaml.tmpl"
COLUMNS = ("sentid", "sentence", "pronoun", "occupation", "participant", "gender", "target", "label", "gotcha")


def write_hub_layout(data_dir: Path, path: Path) -> list[Any]:
    """The schemas as the Hub dataset's rows (TSV), from the toolkit's loader; returns the sentences."""
    from debiasbench.api.data import DataLocator
    from debiasbench_metrics.winogender.dataset import WinogenderDataset

    sentences = WinogenderDataset().load(DataLocator(data_dir, download=False))
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(COLUMNS)
        for s in sentences:
            target = s.occupation if s.label == 0 else s.participant
            writer.writerow([s.item + ".txt", s.sentence, s.pronoun, s.occupation, s.participant, s.gender, target, s.label, s.gotcha])
    return sentences


def run_lm_eval_winogender(venv: Path, model_dir: Path, data_dir: Path, prefix_token_id: int | None, batch_size: int = 16) -> dict[str, Any]:
    """lm-eval's accuracy overall, per pronoun gender, on the gotchas, and its per-sentence log-likelihoods."""
    with tempfile.TemporaryDirectory(prefix="peer-winogender-") as tmp:
        scratch = Path(tmp)
        tsv = scratch / "winogender.tsv"
        sentences = write_hub_layout(data_dir, tsv)
        tasks = scratch / "tasks"
        tasks.mkdir()
        builtin = _site_packages(venv) / "lm_eval/tasks/winogender/winogender.yaml"
        text = string.Template(_TEMPLATE.read_text()).substitute(lm_eval_task_yaml=json.dumps(str(builtin)), tsv=json.dumps(str(tsv)))
        (tasks / f"{TASK}.yaml").write_text(text)
        model_args = f"pretrained={model_dir.resolve()},dtype=float32" + (f",prefix_token_id={prefix_token_id}" if prefix_token_id is not None else "")
        command = [str(venv.absolute() / "bin" / "lm_eval"), "--model", "hf", "--model_args", model_args, "--tasks", TASK,
                   "--include_path", str(tasks), "--batch_size", str(batch_size), "--device", "cpu",
                   "--output_path", str(scratch / "out"), "--log_samples"]
        start = time.perf_counter()
        proc = subprocess.run(command, env=_child_env(scratch), capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"lm_eval exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-4000:]}")
        report = json.loads(sorted((scratch / "out").rglob("results_*.json"))[-1].read_text())
        samples = [json.loads(line) for f in sorted((scratch / "out").rglob(f"samples_{TASK}_*.jsonl")) for line in f.read_text().splitlines()]
    by_id = {s.item + ".txt": s for s in sentences}
    acc: dict[str, list[float]] = {}
    loglik = {}
    for sample in samples:
        doc = sample["doc"]
        s = by_id[doc["sentid"]]
        for subset in ("accuracy", f"accuracy-{s.gender}", *(("gotcha", f"gotcha-{s.gender}") if s.gotcha else ())):
            acc.setdefault(subset, []).append(float(sample["acc"]))
        loglik[s.item] = [_first(r) for r in sample["filtered_resps"]]
    return {
        "seconds": seconds, "lm_eval_seconds": report.get("total_evaluation_time_seconds"),
        "acc": float(report["results"][TASK]["acc,none"]), "subsets": {k: 100.0 * sum(v) / len(v) for k, v in acc.items()},
        "n": len(samples), "loglikelihoods": loglik, "version": lm_eval_version(venv), "command": shlex.join(command),
    }


def _first(response: Any) -> float:
    """The log-likelihood of one logged response ([loglik, is_greedy], possibly nested, possibly as strings)."""
    while isinstance(response, (list, tuple)):
        response = response[0]
    return float(response)


def ours(model: str, data_dir: Path) -> dict[str, Any]:
    """Our metric on the same files and model: rows and each sentence's two scores."""
    from debiasbench.api import EvalContext, ModelSettings, get_registry
    from debiasbench.api.data import DataLocator
    from debiasbench.run.models import load_model

    registry = get_registry()
    handle = load_model(model, ModelSettings(device="cpu"), registry)
    metric = registry.get("metric", "winogender")
    ctx = EvalContext(data=DataLocator(data_dir, download=False), registry=registry, save_examples=True)
    start = time.perf_counter()
    result = metric.evaluate(handle, ctx, metric.Options())
    seconds = time.perf_counter() - start
    examples = result.examples.to_pylist()
    return {"seconds": seconds, "rows": {r.measure: r.value for r in result.rows},
            "scores": {e["item"]: [e["score_occupation"], e["score_participant"]] for e in examples},
            "correct": {e["item"]: bool(e["correct"]) for e in examples}, "prefix_token_id": handle.prefix_token_id}


if __name__ == "__main__":
    venv_arg, model_arg, model_dir_arg, data_arg = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
    mine = ours(model_arg, data_arg)
    peer = run_lm_eval_winogender(venv_arg, model_dir_arg, data_arg, mine["prefix_token_id"])
    diffs = [abs(a - b) for item, pair in peer["loglikelihoods"].items() for a, b in zip(pair, mine["scores"][item])]
    same = sum((pair[0] >= pair[1]) == (mine["scores"][item][0] >= mine["scores"][item][1]) for item, pair in peer["loglikelihoods"].items())
    peer_answers = peer.pop("loglikelihoods")
    mine.pop("scores"), mine.pop("correct")
    print(json.dumps({"ours": mine, "lm_eval": peer, "max_abs_loglik_diff": max(diffs), "same_answer": same, "sentences": len(peer_answers)}, indent=2))
