"""Slow: ``accelerate launch --cpu --num_processes 2 -m debiasbench eval|run`` against one process.

Real launches (two processes, gloo on CPU) on a tiny saved model and real data subsets: the
per-item decisions and scores equal one process's, each table is written once, the baseline
cache is read by rank 0 for everyone, and training with the same global batch gives the same
losses (float tolerance), stopping step and after-decisions. One check on the embedded model.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("accelerate")
pytest.importorskip("debiasbench_metrics")
pytest.importorskip("debiasbench_hf")
pytest.importorskip("debiasbench_unlearn")

from debiasbench.results.tables import read_table  # noqa: E402

pytestmark = pytest.mark.slow
ONE = [sys.executable, "-m", "debiasbench"]


def two_processes() -> list[str]:
    """``accelerate launch`` of two CPU processes (torchrun underneath; ``--cpu`` alone starts one
    process unless MPI is set up), on a free loopback port so concurrent test runs do not meet."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
            "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_ip", "127.0.0.1",
            "--main_process_port", str(port), "-m", "debiasbench"]


LOSS_TOLERANCE = 1e-5  # float32 sums in another order


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from debiasbench.testing import tiny_model_handle

    folder = tmp_path_factory.mktemp("tiny") / "model"
    tiny_model_handle(n_positions=1024, texts=["Women are awful.", "The man worked as a nurse."]).save(folder)
    return folder


def _run(command: list[str], args: list[str], cache: Path | None, data: Path) -> subprocess.CompletedProcess[str]:
    """``cache`` None: the session's toolkit cache (tests/conftest.py: the embedded model dequantised once for the whole suite)."""
    env = {**os.environ, "DEBIASBENCH_DATA": str(data), "DEBIASBENCH_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1",
           "ACCELERATE_CONFIG_FILE": str(data / "no-accelerate-config.yaml"),  # absent: no user config changes the launch
           "ACCELERATE_USE_CPU": "1", "CUDA_VISIBLE_DEVICES": "", "GLOO_SOCKET_IFNAME": "lo"}
    if cache is not None:
        env["DEBIASBENCH_CACHE"] = str(cache)
    done = subprocess.run([*command, *args], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _only(results: Path, table: str) -> list[dict[str, Any]]:
    files = list((results / table).glob("*.parquet"))
    assert len(files) == 1, files  # written once, by rank 0
    return read_table(results, table).to_pylist()


def _by_item(rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], tuple[Any, Any]]:
    return {(r["stage"], r["measure"], r["domain"], r["item"]): (r["value"], r["decision"]) for r in rows}


def _examples(results: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    (run,) = list((results / "examples").iterdir())
    return {f.name: pq.read_table(f).to_pandas() for f in run.glob("*.parquet")}


def test_eval_under_two_processes_gives_one_process_items_and_scores(model: Path, tmp_path: Path, data_dir: Path) -> None:
    common = ["eval", "--model", str(model), "--metrics", "crows-pairs,stereoset,perplexity", "--eval-limit", "12",
              "-M", "perplexity.max_tokens=2048", "--device", "cpu", "--save-examples"]
    two, one = tmp_path / "two", tmp_path / "one"
    launched = _run(two_processes(), [*common, "--results-dir", str(two)], tmp_path / "cache", data_dir)
    _run(ONE, [*common, "--results-dir", str(one), "--no-cache"], tmp_path / "cache-one", data_dir)
    assert launched.stdout.count("wrote ") == 1 and launched.stderr.count("loading model") == 1  # rank 0 reports and logs
    assert "data parallel over 2 processes" in launched.stderr

    items_two, items_one = _by_item(_only(two, "items")), _by_item(_only(one, "items"))
    assert items_two.keys() == items_one.keys() and len(items_one) > 100
    assert items_two == items_one  # the same per-item values and decisions
    metrics = {(r["measure"], r["domain"]): r["value"] for r in _only(two, "metrics")}
    assert metrics == {(r["measure"], r["domain"]): r["value"] for r in _only(one, "metrics")}
    examples_two, examples_one = _examples(two), _examples(one)
    assert examples_two.keys() == examples_one.keys() == {"crows-pairs-before.parquet", "stereoset-before.parquet", "perplexity-before.parquet"}
    for name, table in examples_one.items():  # every sentence's and window's raw score, bit for bit
        for column in table.columns:
            if table[column].dtype.kind in "fi":
                np.testing.assert_array_equal(examples_two[name][column].to_numpy(), table[column].to_numpy(), err_msg=f"{name}:{column}")

    stored = sorted(p.name.split("-")[0] for p in (tmp_path / "cache" / "eval" / "baselines").glob("*.parquet") if p.name.count(".") == 1)
    assert stored == ["crows", "perplexity", "stereoset"]  # each baseline stored once, by rank 0


def test_training_under_two_processes_matches_one(model: Path, tmp_path: Path, data_dir: Path) -> None:
    # 9 forget texts in batches of 4: the last step has one text, so rank 1's share of it is empty
    common = ["run", "--method", "grad-diff", "--domain", "gender", "--model", str(model), "--metrics", "crows-pairs",
              "--eval-domains", "gender", "--eval-limit", "24", "--forget-limit", "9", "-o", "max_steps=3", "-o", "batch_size=4",
              "-o", "learning_rate=3e-3", "--eval-every", "1", "--device", "cpu", "-q"]
    two, one = tmp_path / "two", tmp_path / "one"
    _run(ONE, [*common, "--results-dir", str(one)], tmp_path / "cache", data_dir)
    launched = _run(two_processes(), [*common[:-1], "--results-dir", str(two)], tmp_path / "cache", data_dir)
    assert launched.stderr.count("(cached)") == 1  # the baseline one process stored: rank 0 read it for both processes
    run_two, run_one = _only(two, "runs")[0], _only(one, "runs")[0]
    assert json.loads(run_two["method_info"])["processes"] == 2 and json.loads(run_one["method_info"])["processes"] == 1
    assert (run_two["steps"], run_two["stop_reason"]) == (run_one["steps"], run_one["stop_reason"]) == (3, "steps")

    def losses(results: Path) -> list[tuple[int, float, float]]:
        rows = {r["step"]: (r["forget_loss"], r["retain_loss"]) for r in _only(results, "trajectories") if r["step"] > 0}
        return [(step, *rows[step]) for step in sorted(rows)]

    for (step, forget, retain), (step1, forget1, retain1) in zip(losses(two), losses(one), strict=True):
        assert step == step1
        assert forget == pytest.approx(forget1, abs=LOSS_TOLERANCE) and retain == pytest.approx(retain1, abs=LOSS_TOLERANCE)
    after_two = {k: v[1] for k, v in _by_item(_only(two, "items")).items() if k[0] == "after"}
    after_one = {k: v[1] for k, v in _by_item(_only(one, "items")).items() if k[0] == "after"}
    assert after_two == after_one and after_one  # the same per-item decisions after unlearning


def test_embedded_model_crows_pairs_decisions_match_one_process(tmp_path: Path, data_dir: Path) -> None:
    common = ["eval", "--model", "smollm2-135m-q4", "--metrics", "crows-pairs", "--eval-limit", "3", "--device", "cpu",
              "--no-cache", "-q"]
    _run(two_processes(), [*common, "--results-dir", str(tmp_path / "two")], None, data_dir)
    _run(ONE, [*common, "--results-dir", str(tmp_path / "one")], None, data_dir)
    assert _by_item(_only(tmp_path / "two", "items")) == _by_item(_only(tmp_path / "one", "items"))


def test_cpu_launch_through_mpi_gives_one_process_decisions(model: Path, tmp_path: Path, data_dir: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's command, ``accelerate launch --cpu --num_processes 2``: accelerate starts several
    CPU processes through MPI only, so it is given a host file (mpich's wheel, the ``mpi`` extra)."""
    import shutil

    mpirun = shutil.which("mpirun", path=str(Path(sys.executable).parent)) or shutil.which("mpirun")
    if mpirun is None:
        pytest.skip("no mpirun (pip install 'debiasbench[mpi]')")
    hostfile = tmp_path / "hostfile"
    hostfile.write_text("localhost:2\n")
    command = [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "--mpirun_hostfile", str(hostfile), "-m", "debiasbench"]
    common = ["eval", "--model", str(model), "--metrics", "crows-pairs", "--eval-limit", "12", "--device", "cpu", "--no-cache"]
    monkeypatch.setenv("PATH", f"{Path(mpirun).parent}{os.pathsep}{os.environ.get('PATH', '')}")  # accelerate looks mpirun up on PATH
    launched = _run(command, [*common, "--results-dir", str(tmp_path / "two")], tmp_path / "cache", data_dir)
    _run(ONE, [*common, "--results-dir", str(tmp_path / "one")], tmp_path / "cache", data_dir)
    assert "data parallel over 2 processes" in launched.stderr and launched.stdout.count("wrote ") == 1
    items_two, items_one = _by_item(_only(tmp_path / "two", "items")), _by_item(_only(tmp_path / "one", "items"))
    assert items_two == items_one and len(items_one) > 20
