"""Slow: ``kill -9`` in each phase of run, sweep and study (``DEBIASBENCH_FAULT``, see
debiasbench/runtime/faults.py), then the resume: nothing half-written counts, nothing is lost,
nothing is duplicated. Real subprocesses on a tiny saved model and real data subsets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("debiasbench_unlearn")
pytest.importorskip("debiasbench_metrics")
pytest.importorskip("debiasbench_hf")

from debiasbench.results.tables import read_table  # noqa: E402

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "debiasbench"]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from debiasbench.testing import tiny_model_handle

    folder = tmp_path_factory.mktemp("tiny") / "model"
    tiny_model_handle(n_positions=1024, texts=["Women are awful.", "The man worked as a nurse."]).save(folder)
    return folder


def _run(args: list[str], tmp: Path, data: Path, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIASBENCH_DATA": str(data), "DEBIASBENCH_CACHE": str(tmp / "cache"), "DEBIASBENCH_NO_PROGRESS": "1"}
    env.pop("DEBIASBENCH_FAULT", None)
    if fault:
        env["DEBIASBENCH_FAULT"] = fault
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=600)


def _common(model: Path, results: Path) -> list[str]:
    return ["--model", str(model), "--metrics", "crows-pairs", "--eval-domains", "gender", "--eval-limit", "24",
            "--forget-limit", "8", "-o", "max_steps=2", "--results-dir", str(results), "--device", "cpu"]


@pytest.mark.parametrize("phase", ["written-items"])  # between the tables and the run row (other phases: DEBIASBENCH_FAULT)
def test_run_killed_in_each_phase_then_rerun(phase: str, model: Path, tmp_path: Path, data_dir: Path) -> None:
    results = tmp_path / "results"
    args = ["run", "--method", "mlm-unlearn", "--domain", "gender", *_common(model, results)]
    killed = _run(args, tmp_path, data_dir, fault=phase)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert len(read_table(results, "runs")) == 0  # a killed run never counts as done
    done = _run(args, tmp_path, data_dir)
    assert done.returncode == 0, done.stderr
    assert len(read_table(results, "runs")) == 1
    compare = _run(["compare", str(results), "-f", "csv"], tmp_path, data_dir)
    assert compare.returncode == 0 and "read 1 runs" in compare.stderr
    check = _run(["check", str(results)], tmp_path, data_dir)
    # at most the killed run's orphans, which check names and counts as damage (exit 1, issue 25); nothing else
    damage = [line for line in check.stderr.splitlines() if "damage:" in line]
    assert all("but no runs row" in line for line in damage), check.stderr
    assert check.returncode == (1 if damage else 0), check.stderr


def test_sweep_killed_at_its_second_point_resumes_without_duplicates(model: Path, tmp_path: Path, data_dir: Path) -> None:
    results = tmp_path / "results"
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(f"model = '{model}'\nmetrics = ['crows-pairs']\neval_domains = ['gender']\neval_limit = 24\nforget_limit = 8\n"
                     f"device = 'cpu'\nresults_dir = '{results}'\n[grid]\nmethod = ['mlm-unlearn']\ndomain = ['gender']\n"
                     "seed = [0, 1, 2]\n[options.mlm-unlearn]\nmax_steps = 2\n")
    killed = _run(["sweep", str(sweep)], tmp_path, data_dir, fault="written-items@2")
    assert killed.returncode == -signal.SIGKILL
    assert len(read_table(results, "runs")) == 1
    resumed = _run(["sweep", str(sweep)], tmp_path, data_dir)
    assert resumed.returncode == 0, resumed.stderr
    assert "ran 2, skipped 1 already done" in resumed.stdout
    runs = read_table(results, "runs").to_pylist()
    assert sorted(r["seed"] for r in runs) == [0, 1, 2] and len({r["config_hash"] for r in runs}) == 3


def test_study_killed_in_a_control_resumes_and_reports(model: Path, tmp_path: Path, data_dir: Path) -> None:
    results = tmp_path / "results"
    study = tmp_path / "study.toml"
    study.write_text(f"model = '{model}'\nmetrics = ['crows-pairs', 'perplexity']\neval_domains = ['gender']\neval_limit = 40\n"
                     f"forget_limit = 8\neval_every = 1\ndevice = 'cpu'\nresults_dir = '{results}'\n"
                     "[metric_options.perplexity]\nmax_tokens = 1024\n"
                     "[grid]\nmethod = ['mlm-unlearn']\ndomain = ['gender']\nseed = [0]\n[options.mlm-unlearn]\nmax_steps = 2\n"
                     "[study]\ncontrols = ['random-tokens', 'benign-ga']\n"
                     "[study.family]\nname = 'f'\nmeasures = ['crows-pairs.score', 'crows-pairs.margin']\n")
    killed = _run(["study", str(study)], tmp_path, data_dir, fault="unlearned@3")  # the benign-ga control, third run
    assert killed.returncode == -signal.SIGKILL
    assert len(read_table(results, "runs")) == 2
    resumed = _run(["study", str(study), "-q"], tmp_path, data_dir)
    assert resumed.returncode == 0, resumed.stderr
    runs = read_table(results, "runs").to_pylist()
    assert sorted(r["method"] for r in runs) == ["benign-ga", "mlm-unlearn", "mlm-unlearn"]
    assert (results / "report" / "report.md").is_file()
