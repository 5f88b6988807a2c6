"""``--executor ray`` and ``--executor slurm`` (submitit's local executor) on the tiny study:
the same rows as the local executor, baselines computed once, a killed worker retried, and a
study half done locally finished on Ray. A Ray cluster of 2 CPUs on 127.0.0.1, started and
stopped by this module; the tiny plugins reach the workers through PYTHONPATH."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from debiasbench.cli import app
from debiasbench.campaign.study import plan_study, run_study
from debiasbench.campaign.study_file import load_study
from debiasbench.plugin_system.loader import get_plugins
from debiasbench.results.tables import read_table
from tests import tiny_plugins, tiny_study_plugins

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
# worker processes import torch: seconds each; one xdist worker runs the module, so its Ray cluster starts once
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray-cluster")]

STUDY = """
model = "tiny"
forget_set = "tiny-hate-2"
metrics = ["item-logprob", "text-logprob"]
device = "cpu"
cache_dir = "{cache}"
results_dir = "{results}"
eval_every = 1

[grid]
method = ["tiny-ga"]
domain = ["gender"]
seed = {seeds}

[options.tiny-ga]
learning_rate = 0.05
max_steps = 2

[study]
name = "tiny-transfer"
controls = ["tiny-half-lr", "tiny-matched"]

[study.family]
name = "tiny family"
measures = ["item-logprob"]
"""
RUNS = 3  # per seed: the method, a control derived before it, a control derived from its result


@pytest.fixture(autouse=True)
def only_tiny_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    import debiasbench.plugin_system.loader

    loaded = debiasbench.plugin_system.loader.load_plugins(extra={"tiny": tiny_plugins, "tiny-study": tiny_study_plugins},
                                                           entry_points=[])
    monkeypatch.setattr(debiasbench.plugin_system.loader, "_CACHED", loaded)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))


@pytest.fixture(scope="module")
def ray_cluster() -> object:
    """A 2-CPU Ray cluster on loopback for the module; the executor joins it (ray.is_initialized)."""
    pytest.importorskip("ray")
    from tests.ray_loopback import loopback_cluster

    with loopback_cluster(cpus=2) as ray:
        yield ray


def _write(folder: Path, seeds: tuple[int, ...] = (0, 1)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "study.toml"
    path.write_text(STUDY.format(cache=folder / "cache", results=folder / "results", seeds=list(seeds)))
    return path


def _rows(results: Path) -> dict[str, dict]:
    """config hash -> the run's steps and its per-item after-scores (the decisions a report is built from)."""
    runs = read_table(results, "runs").to_pylist()
    assert len({r["config_hash"] for r in runs}) == len(runs), "duplicate runs rows"
    items = read_table(results, "items").to_pylist()
    out = {}
    for run in runs:
        mine = [i for i in items if i["run_id"] == run["run_id"]]
        out[run["config_hash"]] = {"steps": run["steps"],
                                   "items": {(i["stage"], i["measure"], i["domain"], i["item"]): i["value"] for i in mine},
                                   "decisions": {(i["stage"], i["measure"], i["domain"], i["item"]): i["decision"] for i in mine}}
    return out


def _same(a: dict[str, dict], b: dict[str, dict]) -> None:
    assert set(a) == set(b)
    for key in a:
        assert a[key]["steps"] == b[key]["steps"] and a[key]["decisions"] == b[key]["decisions"]
        assert a[key]["items"].keys() == b[key]["items"].keys()
        assert a[key]["items"] == pytest.approx(b[key]["items"], rel=1e-5, abs=1e-6)


def test_ray_study_equals_local_and_computes_each_baseline_once(ray_cluster: object, tmp_path: Path) -> None:
    from debiasbench.campaign.executors.ray_executor import RayExecutor

    local = runner.invoke(app, ["study", str(_write(tmp_path / "local")), "-q"])
    assert local.exit_code == 0, local.output
    study = load_study(_write(tmp_path / "ray"))
    plan_study(study)
    executor = RayExecutor()
    executor.start()
    progress = run_study(study, get_plugins().registry, executor=executor)
    executor.close()
    assert not progress.failed and len(progress.ran) == 2 * RUNS
    _same(_rows(tmp_path / "local" / "results"), _rows(tmp_path / "ray" / "results"))
    cached = list((tmp_path / "ray" / "cache" / "eval" / "baselines").glob("*.parquet"))
    baseline_files = [p for p in cached if not p.name.endswith((".items.parquet", ".examples.parquet"))]
    # one model, one protocol: the warm-up computed each baseline (2 metrics + the step-0 probe) once, no point did
    assert progress.baselines_computed == len(baseline_files) >= 2
    assert progress.baselines_recomputed == 0


def test_killed_worker_is_retried_without_duplicates(ray_cluster: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBIASBENCH_FAULT", "written-items")  # SIGKILL between a run's tables and its runs row...
    monkeypatch.setenv("DEBIASBENCH_FAULT_ATTEMPT", "1")  # ...on every point's first attempt only
    result = runner.invoke(app, ["study", str(_write(tmp_path, seeds=(0,))), "--executor", "ray", "--address", "auto", "--retries", "1"])
    assert result.exit_code == 0, result.output
    assert f"{RUNS} retried after a lost worker" in result.output
    runs = read_table(tmp_path / "results", "runs").to_pylist()
    assert len(runs) == RUNS and len({r["config_hash"] for r in runs}) == RUNS


def test_study_half_done_locally_finishes_on_ray(ray_cluster: object, tmp_path: Path) -> None:
    path = _write(tmp_path)
    assert runner.invoke(app, ["study", str(path), "-q"]).exit_code == 0
    full = _rows(tmp_path / "results")
    dropped = [r for r in read_table(tmp_path / "results", "runs").to_pylist() if r["seed"] == 1]  # as if stopped half way
    for r in dropped:
        (tmp_path / "results" / "runs" / f"{r['run_id']}.parquet").unlink()
    result = runner.invoke(app, ["study", str(path), "--executor", "ray", "--address", "auto"])
    assert result.exit_code == 0, result.output
    assert f"ran {len(dropped)}, failed 0" in result.output
    _same(full, _rows(tmp_path / "results"))


def test_submitit_local_executor_runs_the_study(tmp_path: Path) -> None:
    pytest.importorskip("submitit")
    local = runner.invoke(app, ["study", str(_write(tmp_path / "local", seeds=(0,))), "-q"])
    assert local.exit_code == 0, local.output
    result = runner.invoke(app, ["study", str(_write(tmp_path / "slurm", seeds=(0,))), "--executor", "slurm", "--slurm-cluster", "local",
                                 "--workers", "2", "--slurm-folder", str(tmp_path / "slurm-logs")])
    assert result.exit_code == 0, result.output
    _same(_rows(tmp_path / "local" / "results"), _rows(tmp_path / "slurm" / "results"))
    assert any((tmp_path / "slurm-logs").rglob("*_log.out"))  # submitit's per-job logs


def test_sweep_on_ray_then_nothing_left_for_local(ray_cluster: object, tmp_path: Path) -> None:
    path = _write(tmp_path)
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(path.read_text().split("[study]")[0])  # the study's grid alone is a sweep file
    result = runner.invoke(app, ["sweep", str(sweep), "--executor", "ray", "--cpus-per-run", "1"])
    assert result.exit_code == 0, result.output
    assert "ran 2, skipped 0 already done, failed 0" in result.output
    again = runner.invoke(app, ["sweep", str(sweep)])
    assert again.exit_code == 0 and "all 2 points are done" in again.output, again.output
