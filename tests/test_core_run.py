"""Run orchestration end to end on a tiny model with the small in-process plugins of tests/tiny_plugins.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from debiasbench.errors import DebiasbenchError, UnknownNameError
from debiasbench.run.config import RunConfig
from debiasbench.run.end_to_end import execute, plan_run
from debiasbench.plugin_system.loader import load_plugins
from debiasbench.results.tables import read_table
from tests import tiny_plugins

# test_cli loads this module as its plugin, so it carries the tiny hookimpls too
from tests.tiny_plugins import (  # noqa: F401
    TextLogProb,
    register_datasets,
    register_methods,
    register_metrics,
    register_models,
)


@pytest.fixture()
def plugins() -> Any:
    return load_plugins(extra={"tiny": tiny_plugins}, entry_points=[])


def _config(tmp_path: Path, **kw: Any) -> RunConfig:
    base = dict(method="tiny-ga", model="tiny", domain="gender", forget_set="tiny-hate", metrics=["text-logprob"],
                results_dir=tmp_path / "results", cache_dir=tmp_path / "cache", device="cpu")
    base.update(kw)
    return RunConfig(**base)


def test_run_writes_before_and_after_rows(tmp_path: Path, plugins: Any) -> None:
    result = execute(plan_run(_config(tmp_path), plugins))
    metrics = read_table(tmp_path / "results", "metrics").to_pylist()
    stages = {row["stage"]: row["value"] for row in metrics}
    assert stages["after"] < stages["before"]  # gradient ascent lowered the likelihood of text
    assert {row["source_domain"] for row in metrics} == {"gender"}
    runs = read_table(tmp_path / "results", "runs").to_pylist()
    assert runs[0]["stop_reason"] == "steps" and runs[0]["steps"] == 3 and runs[0]["forget_texts"] == 3
    assert json.loads(runs[0]["versions"])["plugin:tiny"]
    assert result.run_id == runs[0]["run_id"]


def test_baseline_is_cached_across_runs(tmp_path: Path, plugins: Any) -> None:
    TextLogProb.calls = 0
    execute(plan_run(_config(tmp_path), plugins))
    execute(plan_run(_config(tmp_path), plugins))
    assert TextLogProb.calls == 3  # before once (then cached), after twice
    values = [r["value"] for r in read_table(tmp_path / "results", "metrics").to_pylist() if r["stage"] == "before"]
    assert len(values) == 2 and values[0] == values[1]


def test_eval_only(tmp_path: Path, plugins: Any) -> None:
    execute(plan_run(_config(tmp_path, method=None, domain=None), plugins))
    rows = read_table(tmp_path / "results", "metrics").to_pylist()
    assert [(r["method"], r["stage"]) for r in rows] == [("none", "before")]


def test_threads_option_sets_torch_threads_and_not_the_config_hash(tmp_path: Path, plugins: Any) -> None:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)  # not already 1 (an xdist worker runs with 1 thread: tests/parallel.py)
    try:
        execute(plan_run(_config(tmp_path, method=None, domain=None, threads=1), plugins))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert _config(tmp_path, threads=1).config_hash() == _config(tmp_path).config_hash()  # same computation


def test_trajectory_probe_every_step(tmp_path: Path, plugins: Any) -> None:
    result = execute(plan_run(_config(tmp_path, eval_every=1, metrics=["text-logprob", "probe-logprob"]), plugins))
    # text-logprob declares a probe, probe-logprob does not: only the first is in the trajectory, at steps 0..3
    assert {r["metric"] for r in result.trajectory_rows} == {"text-logprob"}
    assert [r["step"] for r in result.trajectory_rows] == [0, 1, 2, 3]
    values = [r["value"] for r in result.trajectory_rows]
    assert values[-1] < values[0]  # gradient ascent lowers the probed log-probability
    assert all(r["headline"] for r in result.trajectory_rows)
    stored = read_table(tmp_path / "results", "trajectories").to_pylist()
    assert [r["step"] for r in stored] == [0, 1, 2, 3]


def test_probe_reuses_the_baseline_at_step_0_and_the_after_evaluation_at_the_last_step(tmp_path: Path, plugins: Any) -> None:
    TextLogProb.calls = 0
    # the probe evaluates the run's domains (default: the study's three): name them, so the protocols match
    config = _config(tmp_path, eval_every=2, metrics=["text-logprob"], eval_domains=["gender", "race", "religion"])
    result = execute(plan_run(config, plugins))
    assert [r["step"] for r in result.trajectory_rows] == [0, 2, 3]
    # before (stored as a baseline); step 0 = that baseline; step 2 probed; after; step 3 = the after-evaluation
    assert TextLogProb.calls == 3
    after = next(r["value"] for r in result.metrics_rows if r["stage"] == "after")
    assert result.trajectory_rows[-1]["value"] == after
    before = next(r["value"] for r in result.metrics_rows if r["stage"] == "before")
    assert result.trajectory_rows[0]["value"] == before


def test_save_model_round_trip(tmp_path: Path, plugins: Any) -> None:
    target = tmp_path / "saved"
    execute(plan_run(_config(tmp_path, save_model=target), plugins))
    assert (target / "model.safetensors").is_file()
    manifest = json.loads((target / "debiasbench-manifest.json").read_text())
    assert manifest["method"] == "tiny-ga" and manifest["prefix_token_id"] == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".saved")]


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"method": "tiny-gaa"}, UnknownNameError, "did you mean 'tiny-ga'"),
        ({"metrics": ["text-logprb"]}, UnknownNameError, "did you mean 'text-logprob'"),
        ({"domain": "gendr"}, UnknownNameError, "did you mean 'gender'"),
        ({"domain": "race"}, DebiasbenchError, "has no texts for domain 'race'"),
        ({"method_options": {"max_step": "2"}}, DebiasbenchError, "did you mean 'max_steps'"),
        ({"method_options": {"max_steps": "0"}}, DebiasbenchError, "max_steps must be >= 1"),
        ({"preset": "fast"}, UnknownNameError, "unknown preset 'fast'"),
        ({"threads": 0}, DebiasbenchError, "--threads must be at least 1"),
        ({"threads": 100_000}, DebiasbenchError, "more than 4x this machine's"),
        ({"seed": 2**63}, DebiasbenchError, "--seed must be between 0 and 2\\*\\*63 - 1"),
        ({"heldout_seed": -1}, DebiasbenchError, "--heldout-seed must be between"),
        ({"dtype": "float64"}, DebiasbenchError, "unknown dtype 'float64'"),
        ({"device": "tpu"}, DebiasbenchError, "unknown device 'tpu'"),
        ({"split": "train"}, DebiasbenchError, "has no splits \\(got --split train\\)"),
    ],
)
def test_bad_input_fails_before_any_work(tmp_path: Path, plugins: Any, changes: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        plan_run(_config(tmp_path, **changes), plugins)
    assert not (tmp_path / "results").exists()  # a refused run leaves no (empty) results folder


def test_unavailable_cuda_is_refused_before_loading(tmp_path: Path, plugins: Any) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(DebiasbenchError, match="torch sees no CUDA device"):
        plan_run(_config(tmp_path, device="cuda"), plugins)


def test_a_table_folder_that_is_a_file_is_refused_before_work(tmp_path: Path, plugins: Any) -> None:
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "runs").write_text("not a folder")
    with pytest.raises(DebiasbenchError, match="is a file where the 'runs' table folder belongs"):
        plan_run(_config(tmp_path), plugins)


def test_save_model_under_a_file_is_refused_before_work(tmp_path: Path, plugins: Any) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(DebiasbenchError, match="--save-model .* cannot be written"):
        plan_run(_config(tmp_path, save_model=tmp_path / "afile" / "model"), plugins)


def test_results_dir_is_a_file(tmp_path: Path, plugins: Any) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(DebiasbenchError, match="is a file"):
        plan_run(_config(tmp_path, results_dir=tmp_path / "file"), plugins)


def test_a_failed_final_write_saves_the_run_to_a_recovery_folder(tmp_path: Path, plugins: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    import debiasbench.runtime.atomic as atomic

    results = tmp_path / "results"
    write_table_atomic = atomic.write_table_atomic

    def full_disk(table: Any, path: Path) -> Path:
        if results in path.parents:
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_table_atomic(table, path)

    monkeypatch.setattr(atomic, "write_table_atomic", full_disk)  # the results store's local writer
    with pytest.raises(DebiasbenchError, match="No space left on device.*is saved in .*recovery.*cp -r") as caught:
        execute(plan_run(_config(tmp_path), plugins))
    recovered = tmp_path / "cache" / "recovery"
    (run_dir,) = list(recovered.iterdir())
    assert run_dir.name in str(caught.value)
    assert len(read_table(run_dir, "runs")) == 1 and len(read_table(run_dir, "metrics")) == 2  # before and after
    assert not (results / "runs").exists()  # nothing claims the run complete where it could not be written


def test_a_results_folder_made_read_only_during_unlearning_keeps_the_run(tmp_path: Path, plugins: Any,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A real permission failure, not a simulated one: the results folder is made immutable (``chattr +i``,
    which binds root too) while the method runs; the finished run goes to the recovery folder, and the
    printed command moves it back once the folder is writable again."""
    import shutil
    import subprocess

    import debiasbench.run.execute as ex

    if shutil.which("chattr") is None:
        pytest.skip("no chattr here")
    results = tmp_path / "results"
    results.mkdir()
    probe = results / ".probe"
    if subprocess.run(["chattr", "+i", str(results)], capture_output=True).returncode != 0:
        pytest.skip("this filesystem or user cannot set the immutable attribute")
    try:
        immutable = subprocess.run(["touch", str(probe)], capture_output=True).returncode != 0
    finally:
        subprocess.run(["chattr", "-i", str(results)], capture_output=True)
    if not immutable:
        pytest.skip("the immutable attribute does not stop writes here")
    real_fault_point = ex.fault_point

    def lock_results_after_unlearning(phase: str) -> None:
        if phase == "unlearned":
            subprocess.run(["chattr", "+i", str(results)], check=True)
        real_fault_point(phase)

    monkeypatch.setattr(ex, "fault_point", lock_results_after_unlearning)
    try:
        with pytest.raises(DebiasbenchError, match=r"is saved in .*recovery.*cp -r") as caught:
            execute(plan_run(_config(tmp_path), plugins))
    finally:
        subprocess.run(["chattr", "-i", str(results)], check=True)
    (run_dir,) = list((tmp_path / "cache" / "recovery").iterdir())
    assert len(read_table(run_dir, "runs")) == 1 and len(read_table(run_dir, "metrics")) == 2
    assert not any(results.iterdir())  # nothing half-written in the locked folder
    command = "cp -r " + str(caught.value).split(": cp -r ", 1)[1]
    subprocess.run(command, shell=True, check=True)  # the printed command restores it
    assert len(read_table(results, "runs")) == 1 and len(read_table(results, "metrics")) == 2
