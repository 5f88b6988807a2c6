"""Fast checks of the executor machinery without an engine: the driver's retry loop on an
in-memory executor, the baseline warm-up waves, the plugin set a worker reloads, and the
fault injection that fires on one attempt only."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

from debiasbench.errors import DebiasbenchError
from debiasbench.run.baselines import baseline_key, baseline_waves
from debiasbench.run.config import RunConfig
from debiasbench.campaign.executors import ExecutorOptions, check_options, make_executor
from debiasbench.campaign.executors.base import Executor, Job, Outcome, PluginSpec, Submitted, WorkerLost
from debiasbench.campaign.executors.dispatch import dispatch


class InMemory(Executor):
    """Runs nothing: job ``i`` finishes with run id ``run-i``; the listed indexes lose their worker
    on their first ``losses`` attempts; the listed indexes report an error."""

    name = "in-memory"

    def __init__(self, lose: dict[int, int], errors: set[int] = frozenset(), parallel: int = 2) -> None:
        self.lose, self.errors, self.parallel = lose, errors, parallel
        self.submitted: list[tuple[int, int]] = []
        self.most_in_flight = 0

    def start(self) -> None:
        pass

    def submit(self, job: Job) -> Submitted:
        self.submitted.append((job.index, job.attempt))
        return Submitted(job, None)

    def wait(self, pending: list[Submitted], timeout: float) -> list[Submitted]:
        self.most_in_flight = max(self.most_in_flight, len(pending))
        return pending[:1]

    def result(self, submitted: Submitted) -> Outcome:
        job = submitted.job
        if job.attempt <= self.lose.get(job.index, 0):
            raise WorkerLost("SIGKILL")
        if job.index in self.errors:
            return Outcome(error="diverged")
        return Outcome(run_id=f"run-{job.index}")


def _jobs(n: int) -> list[Job]:
    return [Job("run", RunConfig(method="m", domain="gender", seed=i), PluginSpec(()), index=i) for i in range(n)]


def test_lost_workers_are_retried_then_given_up_and_errors_are_not_retried() -> None:
    engine = InMemory(lose={1: 1, 2: 5}, errors={3})
    report = dispatch(engine, _jobs(5), retries=2, description="points")
    finished = {job.index: outcome for job, outcome in report.finished}
    assert finished[1].run_id == "run-1" and finished[0].run_id == "run-0"  # lost once, then done
    assert [j.index for j, _ in report.lost] == [2]  # lost on all 3 attempts
    assert finished[3].error == "diverged" and engine.submitted.count((3, 1)) == 1 and (3, 2) not in engine.submitted
    assert sorted(a for i, a in engine.submitted if i == 2) == [1, 2, 3]
    assert report.retried == 3 and engine.most_in_flight <= 2
    assert len(report.finished) + len(report.lost) == 5  # every point once in the outcome, none twice


def test_baseline_waves_one_per_setting_seeds_in_turn() -> None:
    base = RunConfig(method="m", domain="gender", model="a", use_cache=True)
    configs = [dataclasses.replace(base, seed=s, domain=d, method_options={"lr": lr})
               for s in (0, 1) for d in ("gender", "race") for lr in (1, 2)]
    configs += [dataclasses.replace(base, model="b"), dataclasses.replace(base, model="c", use_cache=False)]
    waves = baseline_waves(configs)
    assert [sorted((c.model, c.seed) for c in wave) for wave in waves] == [[("a", 0), ("b", 0)], [("a", 1)]]
    assert baseline_key(configs[0]) == baseline_key(configs[3])  # domain and options do not change the baseline
    assert baseline_key(configs[0]) != baseline_key(dataclasses.replace(configs[0], eval_limit=5))
    probing = dataclasses.replace(configs[1], eval_every=2)
    assert baseline_waves([configs[0], probing])[0][0].eval_every == 2  # the warm-up also warms the step-0 probe


def test_plugin_spec_names_the_driver_plugins() -> None:
    from debiasbench.plugin_system.loader import load_plugins
    from tests import tiny_plugins

    spec = PluginSpec.of(load_plugins(extra={"tiny": tiny_plugins}, entry_points=[]))
    assert spec == PluginSpec((), (("tiny", "tests.tiny_plugins"),))


@pytest.mark.parametrize(("options", "message"), [
    (ExecutorOptions("rey"), "did you mean 'ray'"),
    (ExecutorOptions("local", workers=2), "--workers applies to --executor ray or slurm"),
    (ExecutorOptions("slurm", cpus_per_run=1.5), "whole number"),
    (ExecutorOptions("ray", gpus_per_run=-1), "--gpus-per-run must be 0 or more"),
])
def test_bad_executor_options(options: ExecutorOptions, message: str) -> None:
    with pytest.raises(DebiasbenchError, match=message.replace("(", r"\(")):
        check_options(options)


def test_local_is_this_process() -> None:
    assert make_executor(ExecutorOptions()) is None


def test_fault_fires_on_the_named_attempt_only() -> None:
    code = "from debiasbench.runtime.faults import fault_point; fault_point('unlearned'); print('survived')"
    env = {**os.environ, "DEBIASBENCH_FAULT": "unlearned", "DEBIASBENCH_FAULT_ATTEMPT": "1"}
    first = subprocess.run([sys.executable, "-c", code], env={**env, "DEBIASBENCH_ATTEMPT": "1"}, capture_output=True, text=True)
    second = subprocess.run([sys.executable, "-c", code], env={**env, "DEBIASBENCH_ATTEMPT": "2"}, capture_output=True, text=True)
    assert first.returncode == -9 and second.returncode == 0 and "survived" in second.stdout
