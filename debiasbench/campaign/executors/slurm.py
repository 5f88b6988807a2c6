"""``--executor slurm``: each job is a Slurm job submitted through submitit's ``AutoExecutor``
(partition, time limit, GPUs and CPUs per run as options; logs and pickles in ``--slurm-folder``).

``--slurm-cluster local`` runs the same jobs as local subprocesses through submitit's local
executor (what the tests use, and a way to try a study file before queueing it), ``debug`` in the
driver's own process. A job that ends without a result (killed, preempted, timed out) is a lost
worker, which the driver's loop (:mod:`.dispatch`) retries."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from debiasbench.errors import DebiasbenchError
from debiasbench.campaign.executors.base import Executor, Job, Outcome, Submitted, WorkerLost

INSTALL = "pip install 'debiasbench[slurm]'"
CLUSTERS = ("slurm", "local", "debug")


class SlurmExecutor(Executor):
    """Jobs through submitit. ``workers`` caps the jobs in flight (default: every job on Slurm,
    which queues them; one at a time on the local and debug clusters)."""

    name = "slurm"

    def __init__(self, folder: Path, cluster: str = "slurm", partition: str | None = None, timeout_min: int = 240,
                 cpus_per_run: int = 1, gpus_per_run: int = 0, workers: int | None = None) -> None:
        self.folder, self.cluster, self.partition, self.timeout_min = Path(folder), cluster, partition, timeout_min
        self.cpus_per_run, self.gpus_per_run = cpus_per_run, gpus_per_run
        self.parallel = workers or (1_000_000 if cluster == "slurm" else 1)
        self._executor: Any = None
        self._utils: Any = None

    def start(self) -> None:
        try:
            import submitit
            import submitit.core.utils
        except ImportError:
            raise DebiasbenchError(f"--executor slurm needs submitit, which is not installed; {INSTALL}") from None
        if self.cluster == "slurm" and shutil.which("sbatch") is None:
            raise DebiasbenchError("--executor slurm: sbatch is not on PATH (not a Slurm login node); run the study where "
                                   "Slurm is, or try it here with --slurm-cluster local")
        self._utils = submitit.core.utils
        self._executor = submitit.AutoExecutor(folder=self.folder / "%j", cluster=self.cluster)
        params: dict[str, Any] = {"name": "debiasbench", "timeout_min": self.timeout_min, "cpus_per_task": self.cpus_per_run,
                                  "gpus_per_node": self.gpus_per_run, "tasks_per_node": 1, "nodes": 1}
        if self.partition:
            params["slurm_partition"] = self.partition
        self._executor.update_parameters(**params)

    def submit(self, job: Job) -> Submitted:
        from debiasbench.campaign.executors.worker import run_job

        return Submitted(job, self._executor.submit(run_job, job))

    def wait(self, pending: list[Submitted], timeout: float) -> list[Submitted]:
        deadline = time.monotonic() + timeout
        while True:
            done = [s for s in pending if s.handle.done()]
            if done or time.monotonic() >= deadline:
                return done
            time.sleep(min(0.2, timeout))

    def result(self, submitted: Submitted) -> Outcome:
        try:
            return submitted.handle.result()
        except (self._utils.UncompletedJobError, self._utils.FailedJobError) as exc:
            first = str(exc).strip().splitlines()
            raise WorkerLost(first[0][:200] if first else type(exc).__name__) from None

    def cancel(self, pending: list[Submitted]) -> None:
        for s in pending:
            try:
                s.handle.cancel(check=False)
            except Exception:  # noqa: BLE001 - best effort on Ctrl-C
                continue
