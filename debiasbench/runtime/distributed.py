"""Data parallelism across the processes ``accelerate launch`` starts (one process per GPU or CPU share).

Every process runs the whole command; work is split at the level of forward passes: a scorer
builds its batches exactly as one process would, takes every ``world_size``-th batch
(:func:`shard`), and :func:`gather` hands every process the union of the results. Because a batch
is the same batch whichever process runs it, each item's score is the one a single process
computes, and every process then aggregates identical per-item numbers. Only the main process
writes files, draws progress bars and logs.

Launched or not is read from the environment that ``accelerate launch``, ``torchrun`` or MPI set
(``WORLD_SIZE`` and ``RANK``, or MPI's own names); accelerate is imported only when there are several processes,
so a plain run needs neither accelerate nor a process group. Every helper here is a collective
where there are several processes: every process must call it, in the same order.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from debiasbench.errors import DebiasbenchError

K = TypeVar("K")
T = TypeVar("T")
V = TypeVar("V")


@dataclass(frozen=True)
class Ranks:
    """This process's place among the launched processes (rank 0 of 1 when not launched)."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """The process that writes results, logs and draws progress bars."""
        return self.rank == 0

    @property
    def parallel(self) -> bool:
        return self.world_size > 1


_WORLD = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
_RANK = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK")
"""Where torchrun (``accelerate launch --multi_gpu``) and MPI (``accelerate launch --cpu --mpirun_hostfile``) put them."""


def _first_int(names: tuple[str, ...], default: int) -> int:
    for name in names:
        value = os.environ.get(name, "")
        if value.strip().isdigit():
            return int(value)
    return default


def launched() -> Ranks:
    """Rank and world size from the launcher's environment, without starting anything (cheap)."""
    return Ranks(rank=_first_int(_RANK, 0), world_size=_first_int(_WORLD, 1))


def cpu_launch() -> bool:
    """``accelerate launch --cpu`` asked for the CPU (``ACCELERATE_USE_CPU``), whatever torch sees."""
    return os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes")


def lone_cpu_launch() -> bool:
    """``accelerate launch --cpu --num_processes N`` on one machine starts a single process (more
    need MPI, ``--mpirun_hostfile``); it leaves ``MASTER_ADDR`` set and no ``WORLD_SIZE``. Worth a warning."""
    return cpu_launch() and "MASTER_ADDR" in os.environ and not launched().parallel


def is_main_process() -> bool:
    """True unless this is a non-zero rank of a launched job (no process group needed to know)."""
    return launched().is_main


@functools.lru_cache(maxsize=1)
def ranks() -> Ranks:
    """This process's ranks; with several processes, joins their process group through accelerate."""
    env = launched()
    if not env.parallel:
        return Ranks()
    state = _state()
    return Ranks(rank=int(state.process_index), world_size=int(state.num_processes))


def _state() -> Any:
    try:
        from accelerate import PartialState
    except ImportError:
        raise DebiasbenchError("this command was launched as several processes (WORLD_SIZE > 1) but accelerate is not "
                               "installed; install it with: pip install 'debiasbench[accelerate]'") from None
    return PartialState(cpu=on_cpu())


def on_cpu() -> bool:
    """Whether the launched processes run on the CPU (gloo): ``accelerate launch --cpu`` said so
    (``ACCELERATE_USE_CPU``), or torch sees no GPU (``accelerate launch --multi_gpu`` / torchrun on a CPU machine)."""
    if cpu_launch():
        return True
    import torch

    return not torch.cuda.is_available()


def shard(items: Sequence[T]) -> list[T]:
    """This process's share of ``items``: every ``world_size``-th one from its rank (all with one process).

    Give it the list of batches (sorted and cut as one process would), so each batch is computed
    exactly as it would be alone and long and short batches spread evenly over the processes.
    """
    r = ranks()
    return list(items)[r.rank::r.world_size] if r.parallel else list(items)


def gather(results: Mapping[K, V]) -> dict[K, V]:
    """The union of every process's ``results`` (keyed by item), on every process."""
    r = ranks()
    if not r.parallel:
        return dict(results)
    from accelerate.utils import gather_object

    merged: dict[K, V] = {}
    for part in gather_object([dict(results)]):
        merged.update(part)
    return merged


def broadcast(value: T) -> T:
    """The main process's ``value`` on every process (a cache hit, a run id, a measured batch size)."""
    if not ranks().parallel:
        return value
    from accelerate.utils import broadcast_object_list

    return broadcast_object_list([value], from_process=0)[0]


def sum_over_processes(values: Sequence[float]) -> list[float]:
    """Element-wise sums of ``values`` over the processes, added in rank order, so every process
    gets bit-identical sums and takes the same decision from them."""
    if not ranks().parallel:
        return [float(v) for v in values]
    from accelerate.utils import gather_object

    parts = gather_object([[float(v) for v in values]])
    return [_ordered_sum([part[i] for part in parts]) for i in range(len(values))]


def _ordered_sum(values: Sequence[float]) -> float:
    total = 0.0
    for v in values:
        total += v
    return total


def quiet_unless_main() -> None:
    """On the other processes, library warnings and log records below errors are dropped: what
    rank 0 says once is not repeated by every process."""
    if ranks().is_main:
        return
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    for name in ("transformers", "datasets", "accelerate", "torch", "peft"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextmanager
def main_process_first() -> Iterator[None]:
    """Run the block on the main process first, then on the others: what it writes to a shared
    cache (a dequantised model, a downloaded file) is written once and then read by everyone."""
    r = ranks()
    if r.parallel and not r.is_main:
        wait_for_everyone()
    try:
        yield
    finally:
        if r.parallel and r.is_main:
            wait_for_everyone()


def wait_for_everyone() -> None:
    """A barrier: returns when every process has reached it."""
    if ranks().parallel:
        _state().wait_for_everyone()
