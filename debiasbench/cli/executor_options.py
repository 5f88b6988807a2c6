"""The executor flags shared by ``sweep`` and ``study`` (see docs/scale.md), and starting the engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer

from debiasbench.campaign.executors import Executor, ExecutorOptions, make_executor

PANEL = "Executors (docs/scale.md)"

ExecutorFlag = Annotated[str, typer.Option("--executor", help="local (points one after another in this process) | ray "
                                           "(a Ray task per point) | slurm (a Slurm job per point, through submitit).",
                                           rich_help_panel=PANEL)]
RetriesFlag = Annotated[int, typer.Option("--retries", help="Retry a point whose worker died up to N times (ray, slurm).",
                                          rich_help_panel=PANEL)]
WorkersFlag = Annotated[Optional[int], typer.Option("--workers", help="At most N points at once (default: what the cluster fits; "
                                                    "a local Ray cluster is started with N x --cpus-per-run CPUs).",
                                                    rich_help_panel=PANEL)]
CpusFlag = Annotated[Optional[float], typer.Option("--cpus-per-run", help="CPUs each point declares (default 1; also its torch threads "
                                                   "unless the file sets threads).", rich_help_panel=PANEL)]
GpusFlag = Annotated[Optional[float], typer.Option("--gpus-per-run", help="GPUs each point declares (default 0).", rich_help_panel=PANEL)]
AddressFlag = Annotated[Optional[str], typer.Option("--address", help="Ray cluster to join (host:port, ray://host:port or auto); "
                                                    "default: start a local one for this command.", rich_help_panel=PANEL)]
ClusterFlag = Annotated[Optional[str], typer.Option("--slurm-cluster", help="slurm (default) | local (submitit's local executor: "
                                                    "subprocesses here) | debug (in this process).", rich_help_panel=PANEL)]
PartitionFlag = Annotated[Optional[str], typer.Option("--slurm-partition", help="Slurm partition.", rich_help_panel=PANEL)]
TimeFlag = Annotated[Optional[int], typer.Option("--slurm-time", help="Time limit of each job, in minutes (default 240).",
                                                 rich_help_panel=PANEL)]
FolderFlag = Annotated[Optional[Path], typer.Option("--slurm-folder", help="Folder of submitit's job files and logs, on a filesystem "
                                                    "the nodes share (default: ./slurm-logs).", rich_help_panel=PANEL)]


@contextmanager
def started(options: ExecutorOptions) -> Iterator[Executor | None]:
    """The engine, started (so checked against the cluster) and closed afterwards; None for local."""
    executor = make_executor(options)
    if executor is None:
        yield None
        return
    executor.start()
    try:
        yield executor
    finally:
        executor.close()
