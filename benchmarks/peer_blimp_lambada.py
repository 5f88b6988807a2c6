"""Run lm-evaluation-harness's ``blimp_<UID>`` and ``lambada_openai`` offline next to our ``blimp`` and ``lambada``.

Both tools score the same items of the shared data folder with the same model folder: our metrics draw
their seeded subset (``--pairs`` per paradigm, ``--passages`` passages; seed 0, as ``--eval-limit`` does)
and the chosen lines are written, unchanged, to local files that lm-eval's tasks read. lm-eval lives in its
own venv (``peer_lm_eval_setup.sh``); its task yamls ``include`` the installed ``blimp/_template_yaml`` and
``lambada/lambada_openai.yaml`` whole and swap only the data source (``peer_tasks/*.yaml.tmpl``). Our prefix
token is passed as lm-eval's ``prefix_token_id`` (it precedes BLiMP's sentences in both; LAMBADA's context
needs none in either). Every item is compared: same decision, and the largest log-likelihood difference.

    python benchmarks/peer_blimp_lambada.py [--paradigms A,B,..] [--pairs 100] [--passages 300] [--threads 1]   # ours, then lm-eval alone
    python benchmarks/peer_blimp_lambada.py --paradigms all --pairs 0 --passages 0 --concurrent   # the full sets

Times: ours is the metric's ``evaluate`` on the loaded model (data read, tokenisation, scoring); lm-eval's is
its own ``total_evaluation_time_seconds`` (the whole run after start-up, model load included) and the wall
clock of its process. CPU seconds are given for both (ours: this process's CPU time during ``evaluate``;
lm-eval: its process's user + system time from ``wait4``), so a loaded machine cannot favour either tool.
The full BLiMP (67,000 pairs) and LAMBADA (5,153 passages) are options (``--pairs 0 --passages 0``), not
defaults; with ``--concurrent`` the lm-eval processes start at once on the full files and run beside ours
(one thread each), which is how the full sets fit in an hour on a small machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from peer_lm_eval import _child_env, _site_packages, lm_eval_version  # noqa: E402

DEFAULT_PARADIGMS = ("anaphor_gender_agreement", "adjunct_island", "npi_present_1", "principle_A_case_2", "wh_questions_object_gap")
"""One paradigm of each field (morphology, syntax, semantics, syntax_semantics) and a second syntax one;
principle_A_case_2 holds 5 of the 7 published pairs whose two sentences are identical."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=HERE / ".venv-lm-eval", help="lm-eval's venv (peer_lm_eval_setup.sh)")
    parser.add_argument("--model", default="smollm2-135m-q4", help="the toolkit's model name")
    parser.add_argument("--model-dir", type=Path, default=None, help="its Hugging Face folder (default: the converted embedded model)")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("DEBIASBENCH_DATA", HERE.parent.parent / "shared" / "data")))
    parser.add_argument("--paradigms", default=",".join(DEFAULT_PARADIGMS), help="BLiMP UIDs, comma-separated, or all")
    parser.add_argument("--pairs", type=int, default=100, help="pairs per paradigm (seeded subset; 0 = all 1,000)")
    parser.add_argument("--passages", type=int, default=300, help="LAMBADA passages (seeded subset; 0 = all 5,153)")
    parser.add_argument("--threads", type=int, default=1, help="torch / OpenMP threads of both tools")
    parser.add_argument("--batch-size", type=int, default=16, help="lm-eval's --batch_size")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON report here")
    parser.add_argument("--concurrent", action="store_true",
                        help="full sets only: start lm-eval's processes first and run ours beside them")
    return parser.parse_args()


def model_folder(handle: Any, given: Path | None) -> Path:
    """The Hugging Face folder lm-eval loads: ``given``, the model's own, or the embedded GGUF's converted copy."""
    if given is not None:
        return given
    source = Path(handle.source)
    if source.is_dir():
        return source
    from debiasbench.api.data import cache_dir

    found = sorted((cache_dir(None) / "models").glob(f"{handle.name}-*/config.json"))
    if not found:
        raise SystemExit(f"no Hugging Face folder for {handle.name}; pass --model-dir")
    return found[0].parent


# --------------------------------------------------------------------------- ours


def ours(handle: Any, data_dir: Path, paradigms: tuple[str, ...], pairs: int, passages: int) -> dict[str, Any]:
    """Both metrics on their seeded subsets: figures, per-item scores and the evaluate() time of each."""
    from debiasbench.api import EvalContext, get_registry
    from debiasbench.api.data import DataLocator
    from debiasbench.run.metric_rows import with_core_rows

    registry = get_registry()
    data = DataLocator(data_dir, download=False)
    out: dict[str, Any] = {}
    for name, limit, options in (("blimp", pairs, {"paradigms": paradigms}), ("lambada", passages, {})):
        metric = registry.get("metric", name)
        ctx = EvalContext(data=data, registry=registry, limit=limit or None, seed=0, save_examples=True)
        start, cpu = time.perf_counter(), time.process_time()
        result = metric.evaluate(handle, ctx, metric.Options(**options))
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        rows = with_core_rows(metric, result, 0, intervals=False).rows
        out[name] = {"seconds": seconds, "cpu": cpu, "rows": {f"{r.measure}|{r.domain}": r.value for r in rows},
                     "n": {f"{r.measure}|{r.domain}": r.n for r in rows}, "examples": result.examples.to_pylist()}
    return out


def write_full(data_dir: Path, paradigms: tuple[str, ...], folder: Path) -> dict[str, Path]:
    """Every line of each paradigm and of LAMBADA, unchanged (the ``--pairs 0 --passages 0`` selection)."""
    files = {}
    for uid in paradigms:
        files[uid] = folder / f"blimp_{uid}.jsonl"
        files[uid].write_bytes((data_dir / "blimp" / f"{uid}.jsonl").read_bytes())
    files["lambada"] = folder / "lambada.jsonl"
    files["lambada"].write_bytes((data_dir / "lambada" / "lambada_test.jsonl").read_bytes())
    return files


def write_subsets(data_dir: Path, mine: dict[str, Any], folder: Path) -> dict[str, Path]:
    """The lines our metrics scored, unchanged, one file per BLiMP paradigm and one for LAMBADA."""
    wanted: dict[str, set[str]] = {}
    for e in mine["blimp"]["examples"]:
        uid, pair_id = e["item"].split("/", 1)
        wanted.setdefault(uid, set()).add(pair_id)
    files = {}
    for uid, ids in wanted.items():
        lines = [line for line in (data_dir / "blimp" / f"{uid}.jsonl").read_text(encoding="utf-8").splitlines()
                 if line.strip() and str(json.loads(line)["pairID"]) in ids]
        assert len(lines) == len(ids), uid
        files[uid] = folder / f"blimp_{uid}.jsonl"
        files[uid].write_text("\n".join(lines) + "\n", encoding="utf-8")
    chosen = {int(e["item"]) for e in mine["lambada"]["examples"]}
    lines = [line for line in (data_dir / "lambada" / "lambada_test.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    files["lambada"] = folder / "lambada.jsonl"
    files["lambada"].write_text("\n".join(lines[i] for i in sorted(chosen)) + "\n", encoding="utf-8")
    return files


# --------------------------------------------------------------------------- lm-eval


def _fill(template: str, path: Path, **values: Any) -> None:
    text = string.Template((HERE / "peer_tasks" / template).read_text()).substitute(
        {k: json.dumps(str(v)) if k != "task" else v for k, v in values.items()})
    path.write_text(text)


def start_lm_eval(venv: Path, model_dir: Path, tasks: list[str], tasks_dir: Path, scratch: Path, prefix_token_id: int,
                  batch_size: int, device: str) -> dict[str, Any]:
    """Start one ``lm_eval`` process over ``tasks``; ``finish_lm_eval`` waits for it."""
    out_dir = scratch / f"out-{tasks[0]}"
    command = [str(venv.absolute() / "bin" / "lm_eval"), "--model", "hf",
               "--model_args", f"pretrained={model_dir.resolve()},dtype=float32,prefix_token_id={prefix_token_id}",
               "--tasks", ",".join(tasks), "--include_path", str(tasks_dir), "--batch_size", str(batch_size),
               "--device", device, "--output_path", str(out_dir), "--log_samples"]
    log = (scratch / f"log-{tasks[0]}.txt").open("w")
    proc = subprocess.Popen(command, env=_child_env(scratch), stdout=log, stderr=subprocess.STDOUT, text=True)
    return {"proc": proc, "log": log, "start": time.perf_counter(), "command": command, "out_dir": out_dir, "tasks": tasks}


def samples_files(out_dir: Path, task: str) -> list[Path]:
    """lm-eval's ``samples_<task>_<timestamp>.jsonl`` of exactly ``task``: a glob ``samples_<task>_*`` would also take
    the files of every task whose name extends it (BLiMP's ``wh_vs_that_with_gap`` and ``..._long_distance``)."""
    pattern = re.compile(rf"samples_{re.escape(task)}_\d{{4}}-\d{{2}}-\d{{2}}T[\d.:-]+\.jsonl")
    return sorted(f for f in out_dir.rglob(f"samples_{task}_*.jsonl") if pattern.fullmatch(f.name))


def finish_lm_eval(job: dict[str, Any]) -> dict[str, Any]:
    """Wait for a started ``lm_eval``: its results JSON, its samples, wall, own time and CPU time."""
    proc, tasks, out_dir = job["proc"], job["tasks"], job["out_dir"]
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - job["start"]
    proc.returncode = os.waitstatus_to_exitcode(status)
    job["log"].close()
    if proc.returncode != 0:
        raise RuntimeError(f"lm_eval exited {proc.returncode}:\n{Path(job['log'].name).read_text()[-4000:]}")
    command = job["command"]
    report = json.loads(sorted(out_dir.rglob("results_*.json"))[-1].read_text())
    samples = {task: [json.loads(line) for f in samples_files(out_dir, task) for line in f.read_text().splitlines()]
               for task in tasks}
    return {"wall": wall, "seconds": float(report.get("total_evaluation_time_seconds") or wall), "results": report["results"],
            "cpu": usage.ru_utime + usage.ru_stime, "samples": samples, "command": shlex.join(command)}


def _value(response: Any) -> float:
    """The log-likelihood of one logged response ([loglik, is_greedy], possibly nested, possibly as strings)."""
    while isinstance(response, (list, tuple)):
        response = response[0]
    return float(response)


def start_peer(venv: Path, model_dir: Path, files: dict[str, Path], scratch: Path, prefix_token_id: int, batch_size: int,
               device: str, only: tuple[str, ...] = ("blimp", "lambada")) -> dict[str, Any]:
    """Write lm-eval's task yamls over ``files`` and start its BLiMP and LAMBADA processes (``only`` those named) side by side."""
    tasks_dir = scratch / "tasks"
    tasks_dir.mkdir(exist_ok=True)
    site = _site_packages(venv) / "lm_eval" / "tasks"
    blimp_tasks = []
    for uid, path in files.items():
        if uid == "lambada":
            continue
        task = f"blimp_local_{uid}"
        _fill("blimp_local.yaml.tmpl", tasks_dir / f"{task}.yaml", lm_eval_task_yaml=site / "blimp" / "_template_yaml", task=task, jsonl=path)
        blimp_tasks.append(task)
    _fill("lambada_openai_local.yaml.tmpl", tasks_dir / "lambada_openai_local.yaml",
          lm_eval_task_yaml=site / "lambada" / "lambada_openai.yaml", jsonl=files["lambada"])
    tasks = {"blimp": blimp_tasks, "lambada": ["lambada_openai_local"]}
    return {name: start_lm_eval(venv, model_dir, tasks[name], tasks_dir, scratch, prefix_token_id, batch_size, device)
            for name in only}


def finish_peer(venv: Path, jobs: dict[str, Any]) -> dict[str, Any]:
    return {"blimp": finish_lm_eval(jobs["blimp"]), "lambada": finish_lm_eval(jobs["lambada"]), "version": lm_eval_version(venv)}


def run_peer_in_turn(venv: Path, model_dir: Path, files: dict[str, Path], scratch: Path, prefix_token_id: int, batch_size: int,
                     device: str) -> dict[str, Any]:
    """lm-eval's BLiMP job, then its LAMBADA job: one at a time, so each has the cores its ``--threads`` asks for (two
    jobs of two threads at once on two cores oversubscribe them, and OpenMP's spinning inflates both CPU and wall time)."""
    out: dict[str, Any] = {"version": lm_eval_version(venv)}
    for name in ("blimp", "lambada"):
        out[name] = finish_lm_eval(start_peer(venv, model_dir, files, scratch, prefix_token_id, batch_size, device, only=(name,))[name])
    return out


# --------------------------------------------------------------------------- comparison


def compare(mine: dict[str, Any], theirs: dict[str, Any], paradigms: tuple[str, ...]) -> dict[str, Any]:
    """Figures side by side and item-level agreement."""
    table = []
    by_item = {e["item"]: e for e in mine["blimp"]["examples"]}
    same, diffs, accs = 0, [], []
    for uid in paradigms:
        task = f"blimp_local_{uid}"
        acc = 100.0 * float(theirs["blimp"]["results"][task]["acc,none"])
        accs.append(acc)
        for sample in theirs["blimp"]["samples"][task]:
            e = by_item[f"{uid}/{sample['doc']['pairID']}"]
            good, bad = (_value(r) for r in sample["filtered_resps"])
            diffs += [abs(good - e["score_good"]), abs(bad - e["score_bad"])]
            same += int((good >= bad) == e["correct"])
        table.append((f"blimp {uid} acc (%)", mine["blimp"]["rows"][f"blimp.accuracy|{uid}"], acc, mine["blimp"]["n"][f"blimp.accuracy|{uid}"]))
    table.append(("blimp mean over paradigms (%)", mine["blimp"]["rows"]["blimp.accuracy|all"], sum(accs) / len(accs),
                  mine["blimp"]["n"]["blimp.accuracy|all"]))
    lam = theirs["lambada"]["results"]["lambada_openai_local"]
    table.append(("lambada acc (%)", mine["lambada"]["rows"]["lambada.accuracy|all"], 100.0 * float(lam["acc,none"]),
                  mine["lambada"]["n"]["lambada.accuracy|all"]))
    table.append(("lambada perplexity", mine["lambada"]["rows"]["lambada.perplexity|all"], float(lam["perplexity,none"]),
                  mine["lambada"]["n"]["lambada.perplexity|all"]))
    by_text = {e["context"] + e["target"]: e for e in mine["lambada"]["examples"]}
    lam_same, lam_diffs = 0, []
    for sample in theirs["lambada"]["samples"]["lambada_openai_local"]:
        e = by_text[sample["doc"]["text"]]
        lam_diffs.append(abs(float(sample["perplexity"]) - e["logprob"]))
        lam_same += int(bool(float(sample["acc"])) == e["greedy"])
    return {
        "table": table,
        "blimp_items": {"pairs": len(diffs) // 2, "same_decision": same, "max_abs_loglik_diff": max(diffs)},
        "lambada_items": {"passages": len(lam_diffs), "same_greedy": lam_same, "max_abs_loglik_diff": max(lam_diffs)},
        "cpu_seconds": {"ours_blimp": mine["blimp"]["cpu"], "ours_lambada": mine["lambada"]["cpu"],
                        "lm_eval_blimp": theirs["blimp"]["cpu"], "lm_eval_lambada": theirs["lambada"]["cpu"]},
        "seconds": {"ours_blimp": mine["blimp"]["seconds"], "ours_lambada": mine["lambada"]["seconds"],
                    "lm_eval_blimp": theirs["blimp"]["seconds"], "lm_eval_blimp_wall": theirs["blimp"]["wall"],
                    "lm_eval_lambada": theirs["lambada"]["seconds"], "lm_eval_lambada_wall": theirs["lambada"]["wall"]},
    }


def markdown(report: dict[str, Any]) -> str:
    lines = ["| figure | ours | lm-eval | n |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {name} | {a:.4f} | {b:.4f} | {n} |" for name, a, b, n in report["table"]]
    s = report["seconds"]
    lines += ["", f"time (s): blimp ours {s['ours_blimp']:.1f}, lm-eval {s['lm_eval_blimp']:.1f} ({s['lm_eval_blimp_wall']:.1f} wall); "
              f"lambada ours {s['ours_lambada']:.1f}, lm-eval {s['lm_eval_lambada']:.1f} ({s['lm_eval_lambada_wall']:.1f} wall)"]
    c = report["cpu_seconds"]
    lines += [f"CPU s: blimp ours {c['ours_blimp']:.1f}, lm-eval {c['lm_eval_blimp']:.1f} ({c['lm_eval_blimp'] / c['ours_blimp']:.2f}x); "
              f"lambada ours {c['ours_lambada']:.1f}, lm-eval {c['lm_eval_lambada']:.1f} ({c['lm_eval_lambada'] / c['ours_lambada']:.2f}x)"]
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # lm-eval's process inherits it
    import torch

    torch.set_num_threads(args.threads)
    from debiasbench.api import ModelSettings, load_model

    if args.paradigms == "all":
        paradigms = tuple(sorted(f.stem for f in (args.data / "blimp").glob("*.jsonl")))
    else:
        paradigms = tuple(p.strip() for p in args.paradigms.split(",") if p.strip())
    handle = load_model(args.model, ModelSettings(device=args.device))
    folder = model_folder(handle, args.model_dir)
    if args.concurrent and (args.pairs or args.passages):
        raise SystemExit("--concurrent needs the full sets: --pairs 0 --passages 0")
    with tempfile.TemporaryDirectory(prefix="peer-blimp-lambada-") as tmp:
        scratch = Path(tmp)
        if args.concurrent:
            jobs = start_peer(args.venv, folder, write_full(args.data, paradigms, scratch), scratch, handle.prefix_token_id,
                              args.batch_size, args.device)
            mine = ours(handle, args.data, paradigms, args.pairs, args.passages)
            theirs = finish_peer(args.venv, jobs)
        else:  # ours, then lm-eval's two jobs one after the other: each tool alone on the cores
            mine = ours(handle, args.data, paradigms, args.pairs, args.passages)
            theirs = run_peer_in_turn(args.venv, folder, write_subsets(args.data, mine, scratch), scratch, handle.prefix_token_id,
                                      args.batch_size, args.device)
    report = compare(mine, theirs, paradigms)
    report |= {"lm_eval_version": theirs["version"], "model": handle.name, "model_dir": str(folder), "threads": args.threads,
               "torch": torch.__version__, "paradigms": list(paradigms), "pairs_per_paradigm": args.pairs, "passages": args.passages,
               "commands": [theirs["blimp"]["command"], theirs["lambada"]["command"]]}
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text)
    print(text)
    print(markdown(report))


if __name__ == "__main__":
    main()
