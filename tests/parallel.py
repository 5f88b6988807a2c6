"""The suite on several processes (pytest-xdist): CI has 2 cores and the suite ~17 minutes of work,
so by default it runs on 2 workers, one torch thread each, the longest tests handed out first.

tests/conftest.py imports the hooks below. ``-n 0`` or ``-p no:xdist`` runs in one process as
before; ``-n N`` picks another count (``--dist loadgroup`` still applies, so the
``xdist_group``-marked modules keep their module fixtures on one worker)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

DEFAULT_WORKERS = 2
"""CI's cores. More workers would each repeat the session's set-up (imports, the embedded model in
memory, ~2 GB); a machine with more cores gives each worker more torch threads instead
(:func:`limit_threads`), or takes ``-n auto``."""

LONGEST_FIRST = ("tests/test_study_embedded.py", "tests/test_accelerate_launch.py")
"""Files whose tests take minutes (the embedded smoke study ~330 s, the accelerate launches ~50 s
each): started first, so the last minutes of the run are short tests that both workers share."""


def usable_cpus() -> int:
    """CPUs this process may run on (a container's or taskset's limit, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def worker_id() -> str | None:
    """``gw0``, ``gw1``... inside an xdist worker, else None."""
    return os.environ.get("PYTEST_XDIST_WORKER")


def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary folder of the whole run. Each xdist worker has its own basetemp (``popen-gwN``)
    inside one folder of the run; a session fixture that should be built once for all workers
    builds it there, behind a file lock. Without xdist: the session's basetemp."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if worker_id() else base


def limit_threads() -> None:
    """In a worker, torch threads = usable CPUs / workers (1 on CI's 2 cores with 2 workers), so the
    workers do not fight over the cores. ``OMP_NUM_THREADS`` carries it to torch when it loads and to
    every subprocess a test starts; a value the developer set is kept."""
    if worker_id() is None:
        return
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, usable_cpus() // max(1, workers))))
    if "torch" in sys.modules:  # already loaded (by a plugin): it read the environment before
        sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own, which turns -n into worker processes
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Default to :data:`DEFAULT_WORKERS` workers with ``--dist loadgroup`` when pytest-xdist is
    loaded and the command line names no ``-n`` (and no debugger, which needs one process)."""
    option = config.option
    if not hasattr(option, "numprocesses") or worker_id():  # pytest-xdist not loaded (-p no:xdist); or a worker itself
        return
    interactive = config.getoption("usepdb", False) or config.getoption("trace", False)
    if option.numprocesses is None and not interactive and not config.getoption("collectonly", False):
        workers = min(DEFAULT_WORKERS, usable_cpus())
        option.numprocesses = workers if workers > 1 else None
    if option.numprocesses and option.dist == "no":
        option.dist = "loadgroup"  # -n N alone would mean --dist load, which splits the xdist_group modules


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, the tests of :data:`LONGEST_FIRST`, then the other ``slow`` tests, then the rest
    (each in collection order): loadgroup hands tests out in this order. One process keeps the
    collection order, so quick failures still come first there."""
    if worker_id() is None:
        return

    def rank(item: pytest.Item) -> int:
        if item.nodeid.startswith(LONGEST_FIRST):
            return 0
        return 1 if item.get_closest_marker("slow") else 2

    items.sort(key=rank)  # stable: the same order on every worker, as xdist requires
