"""Run bias-bench's own SEAT code on the embedded model and compare it with our ``seat`` metric, test by test.

bias-bench is not a dependency and none of its code is copied here: point the script at a checkout of
McGill-NLP/bias-bench (e.g. ``git clone`` at 291426aa). A child process imports its ``SEATRunner``
(``bias_bench/benchmark/seat/seat.py`` and ``weat.py``, unmodified; numpy's removed ``np.int`` is aliased
to ``int`` first) and runs it on the same test files and the same Hugging Face folder, loaded with
``AutoModel`` as bias-bench loads ``GPT2Model``: one sentence per forward pass, mean of
``last_hidden_state``, normalised; its p-values draw from numpy's global generator seeded once (seed 0).
Our p-values draw from their own seeded generator, so sampled p-values agree within Monte Carlo error
(at most ~0.0016 at 100,000 samples), exact ones and effect sizes to float precision.

    python benchmarks/peer_seat.py BIAS_BENCH_DIR MODEL MODEL_DIR DATA_DIR [TESTS]   (prints JSON)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

_CHILD = """
import json, sys, time
import numpy as np
np.int = int  # removed in numpy 1.24; bias-bench's weat.py still uses it
sys.path.insert(0, sys.argv[1])
import torch, transformers
from bias_bench.benchmark.seat import SEATRunner
model = transformers.AutoModel.from_pretrained(sys.argv[2], torch_dtype=torch.float32).eval()
tokenizer = transformers.AutoTokenizer.from_pretrained(sys.argv[2])
start = time.perf_counter()
with torch.no_grad():
    results = SEATRunner(model=model, tokenizer=tokenizer, tests=sys.argv[4].split(","), data_dir=sys.argv[3], experiment_id="peer")()
print(json.dumps({"seconds": time.perf_counter() - start, "results": results,
                  "adds_special_tokens": tokenizer("a b")["input_ids"] != tokenizer("a b", add_special_tokens=False)["input_ids"]}))
"""


def run_bias_bench(bias_bench: Path, model_dir: Path, data_dir: Path, tests: list[str]) -> dict[str, Any]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    command = [sys.executable, "-c", _CHILD, str(bias_bench), str(model_dir), str(data_dir / "seat"), ",".join(tests)]
    start = time.perf_counter()
    proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"bias-bench exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    report["wall_seconds"] = time.perf_counter() - start
    return report


def ours(model: str, data_dir: Path, tests: list[str]) -> dict[str, Any]:
    from debiasbench.api import EvalContext, ModelSettings, get_registry
    from debiasbench.api.data import DataLocator
    from debiasbench.run.models import load_model

    registry = get_registry()
    handle = load_model(model, ModelSettings(device="cpu"), registry)
    metric = registry.get("metric", "seat")
    start = time.perf_counter()
    result = metric.evaluate(handle, EvalContext(data=DataLocator(data_dir, download=False), registry=registry), metric.Options(tests=tuple(tests)))
    return {"seconds": time.perf_counter() - start, "rows": {f"{r.domain}/{r.measure}": r.value for r in result.rows},
            "exact": result.protocol["exact"]}


if __name__ == "__main__":
    from debiasbench_metrics.seat.catalogue import DEFAULT_TESTS

    bias_bench_arg, model_arg, model_dir_arg, data_arg = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
    tests_arg = sys.argv[5].split(",") if len(sys.argv) > 5 else list(DEFAULT_TESTS)
    mine = ours(model_arg, data_arg, tests_arg)
    peer = run_bias_bench(bias_bench_arg, model_dir_arg, data_arg, tests_arg)
    by_test = {}
    for r in peer["results"]:
        d = next(v for k, v in mine["rows"].items() if k.endswith(f"/seat.{r['test']}.d"))
        p = next(v for k, v in mine["rows"].items() if k.endswith(f"/seat.{r['test']}.p"))
        by_test[r["test"]] = {"d_ours": d, "d_bias_bench": r["effect_size"], "p_ours": p, "p_bias_bench": r["p_value"], "exact": mine["exact"][r["test"]]}
    summary = {k: v for k, v in mine["rows"].items() if "seat.effect-size" in k or "seat.association" in k}
    print(json.dumps({"tests": by_test, "ours_summary": summary, "ours_seconds": mine["seconds"],
                      "bias_bench_seconds": peer["seconds"], "bias_bench_wall_seconds": peer["wall_seconds"],
                      "bias_bench_tokenizer_adds_special_tokens": peer["adds_special_tokens"],
                      "max_abs_d_diff": max(abs(v["d_ours"] - v["d_bias_bench"]) for v in by_test.values()),
                      "max_abs_p_diff": max(abs(v["p_ours"] - v["p_bias_bench"]) for v in by_test.values())}, indent=2))
