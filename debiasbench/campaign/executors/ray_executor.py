"""``--executor ray``: each job is a Ray task with declared resources (``--cpus-per-run``,
``--gpus-per-run``), on an existing cluster (``--address``) or on a local one the driver starts
and stops. Ray places the tasks; a task whose worker process or node dies raises a Ray error,
which the driver's loop (:mod:`.dispatch`) retries."""

from __future__ import annotations

import os
import socket
from typing import Any

from debiasbench.errors import DebiasbenchError
from debiasbench.campaign.executors.base import Executor, Job, Outcome, Submitted, WorkerLost

INSTALL = "pip install 'debiasbench[ray]'"
CONNECT_TIMEOUT_S = 5.0


def probe_address(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Fail in one line, within ``timeout`` seconds, if nothing listens at ``host:port``
    (``ray.init`` itself may wait minutes for an unreachable cluster)."""
    target = address.split("://", 1)[-1]
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise DebiasbenchError(f"--address {address!r} is not host:port (e.g. 10.0.0.1:6379, ray://10.0.0.1:10001) or 'auto'")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise DebiasbenchError(f"no Ray cluster answers at {address} ({exc.strerror or exc}); start one with "
                               f"`ray start --head` there, or leave out --address to start a local one") from None


class RayExecutor(Executor):
    """Jobs as Ray tasks. ``workers`` caps the tasks in flight (default: as many as the cluster's
    resources fit); on a local cluster it also sizes the cluster (``workers`` x ``cpus_per_run`` CPUs)."""

    name = "ray"

    def __init__(self, address: str | None = None, cpus_per_run: float = 1, gpus_per_run: float = 0,
                 workers: int | None = None) -> None:
        self.address, self.cpus_per_run, self.gpus_per_run, self.workers = address, cpus_per_run, gpus_per_run, workers
        self._ray: Any = None
        self._remote: Any = None
        self._started = False  # whether close() should shut the connection down

    def start(self) -> None:
        try:
            import ray
        except ImportError:
            raise DebiasbenchError(f"--executor ray needs Ray, which is not installed; {INSTALL}") from None
        self._ray = ray
        if ray.is_initialized():  # a driver (a notebook, a test) already connected
            pass
        elif self.address:
            if self.address != "auto":
                probe_address(self.address)
            try:
                ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
            except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ImportError (ray:// without ray[client])...
                first = str(exc).strip().splitlines()
                raise DebiasbenchError(f"cannot connect to the Ray cluster at {self.address}: "
                                       f"{first[0] if first else type(exc).__name__}") from None
            self._started = True
        else:
            cpus = (self.workers or os.cpu_count() or 1) * max(self.cpus_per_run, 1)
            ray.init(num_cpus=int(cpus), include_dashboard=False, log_to_driver=False)
            self._started = True
        self._check_resources(ray.cluster_resources())
        from debiasbench.campaign.executors.worker import run_job

        self._remote = ray.remote(run_job).options(num_cpus=self.cpus_per_run, num_gpus=self.gpus_per_run, max_retries=0)

    def _check_resources(self, resources: dict[str, float]) -> None:
        """A request no node can meet would wait forever in Ray's queue: refuse it now."""
        for what, wanted, key in (("--cpus-per-run", self.cpus_per_run, "CPU"), ("--gpus-per-run", self.gpus_per_run, "GPU")):
            have = resources.get(key, 0.0)
            if wanted > have:
                self.close()
                raise DebiasbenchError(f"{what} {wanted:g} cannot be met: the Ray cluster has {have:g} {key}s in all; "
                                       f"lower {what} or add nodes with {key}s")
        fit = int(resources.get("CPU", 0) // self.cpus_per_run) if self.cpus_per_run else len(resources)
        if self.gpus_per_run:
            fit = min(fit, int(resources.get("GPU", 0) // self.gpus_per_run))
        self.parallel = max(1, min(self.workers or fit, fit))

    def submit(self, job: Job) -> Submitted:
        return Submitted(job, self._remote.remote(job))

    def wait(self, pending: list[Submitted], timeout: float) -> list[Submitted]:
        by_ref = {s.handle: s for s in pending}
        ready, _ = self._ray.wait(list(by_ref), num_returns=len(by_ref), timeout=timeout)
        return [by_ref[r] for r in ready]

    def result(self, submitted: Submitted) -> Outcome:
        try:
            return self._ray.get(submitted.handle)
        except self._ray.exceptions.RayError as exc:  # worker crashed, node died, task lost
            raise WorkerLost(type(exc).__name__) from None

    def cancel(self, pending: list[Submitted]) -> None:
        for s in pending:
            self._ray.cancel(s.handle, force=True)

    def close(self) -> None:
        if self._started and self._ray is not None:
            self._ray.shutdown()
            self._started = False
