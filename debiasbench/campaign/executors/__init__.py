"""Where the points of a sweep or study run: ``local`` (one after another in this process, the
default), ``ray`` (Ray tasks) or ``slurm`` (Slurm jobs through submitit). See docs/scale.md.

:class:`ExecutorOptions` is what the command line gives; :func:`make_executor` checks it (one
line naming the wrong option) and builds the engine, which is started, and so checked against
the cluster, before any point runs.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from pathlib import Path

from debiasbench.errors import DebiasbenchError, UnknownNameError
from debiasbench.campaign.executors.base import Executor, Job, Outcome, PluginSpec, WorkerLost

EXECUTORS = ("local", "ray", "slurm")


@dataclass(frozen=True)
class ExecutorOptions:
    """The executor flags of ``sweep`` and ``study``; None means not given."""

    executor: str = "local"
    retries: int = 2
    workers: int | None = None
    cpus_per_run: float | None = None
    gpus_per_run: float | None = None
    address: str | None = None
    slurm_cluster: str | None = None
    slurm_partition: str | None = None
    slurm_time: int | None = None
    slurm_folder: Path | None = None


_ONLY = {"address": ("--address", ("ray",)), "slurm_cluster": ("--slurm-cluster", ("slurm",)),
         "slurm_partition": ("--slurm-partition", ("slurm",)), "slurm_time": ("--slurm-time", ("slurm",)),
         "slurm_folder": ("--slurm-folder", ("slurm",)), "workers": ("--workers", ("ray", "slurm")),
         "cpus_per_run": ("--cpus-per-run", ("ray", "slurm")), "gpus_per_run": ("--gpus-per-run", ("ray", "slurm"))}


def check_options(options: ExecutorOptions) -> None:
    """Every executor flag checked on its own, before plugins, models or clusters are touched."""
    if options.executor not in EXECUTORS:
        close = difflib.get_close_matches(options.executor, EXECUTORS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UnknownNameError(f"unknown executor {options.executor!r}; {hint}choose one of {', '.join(EXECUTORS)}")
    for attribute, (flag, executors) in _ONLY.items():
        if getattr(options, attribute) is not None and options.executor not in executors:
            raise DebiasbenchError(f"{flag} applies to --executor {' or '.join(executors)}, not {options.executor}")
    if options.retries < 0:
        raise DebiasbenchError(f"--retries must be 0 or more, got {options.retries}")
    if options.workers is not None and options.workers < 1:
        raise DebiasbenchError(f"--workers must be 1 or more, got {options.workers}")
    if options.cpus_per_run is not None and not 0 < options.cpus_per_run < math.inf:
        raise DebiasbenchError(f"--cpus-per-run must be positive and finite, got {options.cpus_per_run:g}")
    if options.gpus_per_run is not None and not 0 <= options.gpus_per_run < math.inf:
        raise DebiasbenchError(f"--gpus-per-run must be 0 or more and finite, got {options.gpus_per_run:g}")
    if options.executor == "ray" and options.address is None and options.gpus_per_run:
        _check_local_gpus(options.gpus_per_run)
    if options.executor == "slurm":
        from debiasbench.campaign.executors.slurm import CLUSTERS

        if options.slurm_cluster is not None and options.slurm_cluster not in CLUSTERS:
            raise DebiasbenchError(f"--slurm-cluster {options.slurm_cluster!r} is not one of {', '.join(CLUSTERS)}")
        for flag, value in (("--cpus-per-run", options.cpus_per_run), ("--gpus-per-run", options.gpus_per_run)):
            if value is not None and value != int(value):
                raise DebiasbenchError(f"{flag} must be a whole number on Slurm, got {value:g}")
        if options.slurm_time is not None and options.slurm_time < 1:
            raise DebiasbenchError(f"--slurm-time must be 1 minute or more, got {options.slurm_time}")


def _check_local_gpus(wanted: float) -> None:
    """A local Ray cluster can only have this machine's GPUs: refuse a --gpus-per-run they cannot
    meet before Ray starts (its log lines, token and session folders would come first otherwise)."""
    import os

    if os.environ.get("DEBIASBENCH_FAKE_GPUS"):  # tests: pretend to have this many GPUs
        visible = int(os.environ["DEBIASBENCH_FAKE_GPUS"])
    else:
        try:
            import torch

            visible = torch.cuda.device_count()
        except Exception:  # noqa: BLE001 - no usable torch: no GPUs to count
            visible = 0
    if wanted > visible:
        raise DebiasbenchError(f"--gpus-per-run {wanted:g} cannot be met: this machine has {visible} visible GPU(s) and a local "
                               "Ray cluster has only those; lower --gpus-per-run or pass --address of a cluster with GPUs")


def make_executor(options: ExecutorOptions) -> Executor | None:
    """The engine for ``options`` (None for ``local``: the points run in this process), not yet started."""
    check_options(options)
    cpus, gpus = options.cpus_per_run or 1, options.gpus_per_run or 0
    if options.executor == "ray":
        from debiasbench.campaign.executors.ray_executor import RayExecutor

        return RayExecutor(options.address, cpus, gpus, options.workers)
    if options.executor == "slurm":
        from debiasbench.campaign.executors.slurm import SlurmExecutor

        return SlurmExecutor(options.slurm_folder or Path("slurm-logs"), options.slurm_cluster or "slurm", options.slurm_partition,
                             options.slurm_time or 240, int(cpus), int(gpus), options.workers)
    return None


__all__ = ["EXECUTORS", "Executor", "ExecutorOptions", "Job", "Outcome", "PluginSpec", "WorkerLost", "check_options", "make_executor"]
