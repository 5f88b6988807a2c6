"""The full BLiMP (67,000 pairs) and LAMBADA (5,153 passages) against lm-evaluation-harness, resumable.

Ours is the real command, run once in full with its per-item scores kept::

    /usr/bin/time -v debiasbench eval --model smollm2-135m-q4 --metrics blimp,lambada --save-examples \\
        --dev-fraction 0 --threads 1 --results-dir RESULTS 2> ours-time.txt

lm-eval then scores the same files in chunks (a few paradigms, or a slice of the passages, per ``lm_eval``
process), each chunk's results and per-item samples saved under ``--state`` as it finishes, so the
comparison survives interruptions and spans sittings (a full lm-eval pass is hours of one CPU core)::

    python benchmarks/peer_blimp_lambada_full.py --ours RESULTS --ours-time ours-time.txt --state DIR [--threads 1] [--shard K/N]

Every run does the chunks still missing, then, when none is missing, compares every pair and passage
(same decision, largest log-likelihood difference), the figures side by side, and CPU seconds: ours from
``time -v`` (user + system of the whole command, model load included), lm-eval's summed over its chunk
processes (``wait4``; each of the 13 processes also pays lm-eval's start-up and model load, about 25 s,
which this sum includes and does not separate).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from peer_blimp_lambada import _fill, _value, finish_lm_eval, start_lm_eval  # noqa: E402
from peer_lm_eval import _site_packages, lm_eval_version  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ours", type=Path, required=True, help="results folder of the full `eval --save-examples` run")
    parser.add_argument("--ours-time", type=Path, default=None, help="that command's `/usr/bin/time -v` output")
    parser.add_argument("--state", type=Path, required=True, help="folder of finished lm-eval chunks (resumable)")
    parser.add_argument("--venv", type=Path, default=HERE / ".venv-lm-eval")
    parser.add_argument("--model-dir", type=Path, default=None, help="Hugging Face folder (default: the converted embedded model)")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("DEBIASBENCH_DATA", HERE.parent.parent / "shared" / "data")))
    parser.add_argument("--paradigms-per-chunk", type=int, default=8)
    parser.add_argument("--passages-per-chunk", type=int, default=1300)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-chunks", type=int, default=None, help="stop after this many new chunks")
    parser.add_argument("--shard", default="0/1", help="K/N: do only the chunks whose plan index is K mod N, so N processes "
                        "(one per core) share the plan; each chunk is written whole, so shards never collide")
    parser.add_argument("--prefix-token-id", type=int, default=0, help="the embedded model's prefix token")
    return parser.parse_args()


def default_model_dir() -> Path:
    found = sorted((Path.home() / ".cache" / "debiasbench" / "models").glob("smollm2-135m-q4-*/config.json"))
    if not found:
        raise SystemExit("no converted embedded model; pass --model-dir")
    return found[0].parent


def chunks(data: Path, per_chunk: int, per_slice: int) -> list[dict[str, Any]]:
    """The chunk plan: BLiMP paradigms in sorted order, ``per_chunk`` at a time; LAMBADA lines in slices."""
    uids = sorted(f.stem for f in (data / "blimp").glob("*.jsonl"))
    plan = [{"name": f"blimp-{i:02d}", "kind": "blimp", "uids": uids[s:s + per_chunk]}
            for i, s in enumerate(range(0, len(uids), per_chunk))]
    lines = [x for x in (data / "lambada" / "lambada_test.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    plan += [{"name": f"lambada-{i:02d}", "kind": "lambada", "start": s, "stop": min(s + per_slice, len(lines))}
             for i, s in enumerate(range(0, len(lines), per_slice))]
    return plan


def run_chunk(chunk: dict[str, Any], args: argparse.Namespace, model_dir: Path) -> dict[str, Any]:
    site = _site_packages(args.venv) / "lm_eval" / "tasks"
    with tempfile.TemporaryDirectory(prefix=f"peer-{chunk['name']}-") as tmp:
        scratch = Path(tmp)
        tasks_dir = scratch / "tasks"
        tasks_dir.mkdir()
        if chunk["kind"] == "blimp":
            tasks = []
            for uid in chunk["uids"]:
                path = scratch / f"blimp_{uid}.jsonl"
                path.write_bytes((args.data / "blimp" / f"{uid}.jsonl").read_bytes())
                task = f"blimp_local_{uid}"
                _fill("blimp_local.yaml.tmpl", tasks_dir / f"{task}.yaml", lm_eval_task_yaml=site / "blimp" / "_template_yaml", task=task,
                      jsonl=path)
                tasks.append(task)
        else:
            lines = [x for x in (args.data / "lambada" / "lambada_test.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
            path = scratch / "lambada.jsonl"
            path.write_text("\n".join(lines[chunk["start"]:chunk["stop"]]) + "\n", encoding="utf-8")
            _fill("lambada_openai_local.yaml.tmpl", tasks_dir / "lambada_openai_local.yaml",
                  lm_eval_task_yaml=site / "lambada" / "lambada_openai.yaml", jsonl=path)
            tasks = ["lambada_openai_local"]
        job = start_lm_eval(args.venv, model_dir, tasks, tasks_dir, scratch, args.prefix_token_id, args.batch_size, "cpu")
        done = finish_lm_eval(job)
    return {"chunk": chunk, "cpu": done["cpu"], "wall": done["wall"], "seconds": done["seconds"], "results": done["results"],
            "samples": {t: [{"doc": s["doc"], "resps": [_value(r) for r in s["filtered_resps"]], "acc": s.get("acc"),
                             "perplexity": s.get("perplexity")} for s in done["samples"][t]] for t in tasks}}


def read_ours(results: Path) -> dict[str, Any]:
    """Our per-item scores and figures from the eval run's tables."""
    import pyarrow.parquet as pq

    examples = {m: pq.read_table(next(results.glob(f"examples/*/{m}-before.parquet"))).to_pylist() for m in ("blimp", "lambada")}
    rows = pq.read_table(results / "metrics").to_pylist()
    figures = {f"{r['measure']}|{r['domain']}": r["value"] for r in rows if r["stage"] == "before"}
    return {"examples": examples, "figures": figures}


def ours_cpu(path: Path | None) -> float | None:
    if path is None or not path.exists():
        return None
    text = path.read_text()
    user = float(re.search(r"User time \(seconds\): ([\d.]+)", text).group(1))
    system = float(re.search(r"System time \(seconds\): ([\d.]+)", text).group(1))
    return user + system


def compare(ours: dict[str, Any], done: list[dict[str, Any]]) -> dict[str, Any]:
    blimp = {e["item"]: e for e in ours["examples"]["blimp"]}
    lam = {e["context"] + e["target"]: e for e in ours["examples"]["lambada"]}
    pairs = same = 0
    diffs: list[float] = []
    acc_by_uid: dict[str, float] = {}
    lam_n = lam_same = lam_acc = 0
    lam_ll: list[float] = []
    lam_diffs: list[float] = []
    for chunk in done:
        for task, samples in chunk["samples"].items():
            if task.startswith("blimp_local_"):
                uid = task.removeprefix("blimp_local_")
                # chunks saved before samples_files() read exactly one task's file hold the samples of the task whose
                # name extends this one's too (wh_vs_that_with_gap_long_distance under wh_vs_that_with_gap): keep
                # this paradigm's own, by the UID every BLiMP document carries
                samples = [s for s in samples if s["doc"].get("UID", uid) == uid]
                correct = 0
                for s in samples:
                    e = blimp[f"{uid}/{s['doc']['pairID']}"]
                    good, bad = s["resps"]
                    diffs += [abs(good - e["score_good"]), abs(bad - e["score_bad"])]
                    same += int((good >= bad) == e["correct"])
                    correct += int(s["acc"]) if s["acc"] is not None else int(good >= bad)
                    pairs += 1
                acc_by_uid[uid] = 100.0 * correct / len(samples)
            else:
                for s in samples:
                    e = lam[s["doc"]["text"]]
                    ll = float(s["perplexity"])  # lm-eval logs the loglikelihood under "perplexity" per doc
                    lam_ll.append(ll)
                    lam_diffs.append(abs(ll - e["logprob"]))
                    lam_same += int(bool(float(s["acc"])) == e["greedy"])
                    lam_acc += int(float(s["acc"]))
                    lam_n += 1
    figures = ours["figures"]
    table = [(f"blimp {uid} acc (%)", figures[f"blimp.accuracy|{uid}"], acc) for uid, acc in sorted(acc_by_uid.items())]
    table.append(("blimp mean over paradigms (%)", figures["blimp.accuracy|all"], sum(acc_by_uid.values()) / len(acc_by_uid)))
    table.append(("lambada acc (%)", figures["lambada.accuracy|all"], 100.0 * lam_acc / lam_n))
    table.append(("lambada perplexity", figures["lambada.perplexity|all"], math.exp(-sum(lam_ll) / lam_n)))
    return {"table": table, "blimp_items": {"pairs": pairs, "same_decision": same, "max_abs_loglik_diff": max(diffs)},
            "lambada_items": {"passages": lam_n, "same_greedy": lam_same, "max_abs_loglik_diff": max(lam_diffs)},
            "paradigms": len(acc_by_uid)}


def main() -> None:
    args = parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    model_dir = args.model_dir or default_model_dir()
    args.state.mkdir(parents=True, exist_ok=True)
    plan = chunks(args.data, args.paradigms_per_chunk, args.passages_per_chunk)
    shard, shards = (int(x) for x in args.shard.split("/"))
    new = 0
    for index, chunk in enumerate(plan):
        out = args.state / f"{chunk['name']}.json"
        if out.exists() or index % shards != shard:
            continue
        if args.max_chunks is not None and new >= args.max_chunks:
            break
        print(f"lm-eval chunk {chunk['name']} ...", flush=True)
        result = run_chunk(chunk, args, model_dir)
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(result))
        tmp.replace(out)  # a chunk counts only once it is whole
        new += 1
        print(f"  done: {result['cpu']:.0f} CPU s, {result['wall']:.0f} s wall", flush=True)
    done = [json.loads((args.state / f"{c['name']}.json").read_text()) for c in plan if (args.state / f"{c['name']}.json").exists()]
    if len(done) < len(plan):
        print(f"{len(done)} of {len(plan)} lm-eval chunks done; run again to continue")
        return
    report = compare(read_ours(args.ours), done)
    theirs_cpu = {k: sum(c["cpu"] for c in done if c["chunk"]["kind"] == k) for k in ("blimp", "lambada")}
    report |= {"lm_eval_version": lm_eval_version(args.venv), "chunks": len(done), "threads": args.threads,
               "cpu_seconds": {"ours_eval_total": ours_cpu(args.ours_time), "lm_eval_blimp": theirs_cpu["blimp"],
                               "lm_eval_lambada": theirs_cpu["lambada"], "lm_eval_total": sum(theirs_cpu.values())},
               "lm_eval_own_seconds": sum(c["seconds"] for c in done)}
    (args.state / "report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    print("| figure | ours | lm-eval |\n| --- | ---: | ---: |")
    for name, a, b in report["table"][-4:]:
        print(f"| {name} | {a:.4f} | {b:.4f} |")


if __name__ == "__main__":
    main()
