"""A Ray cluster for tests: 2 CPUs, every process on 127.0.0.1 (Ray's single-machine mode), the
repository on the workers' PYTHONPATH (they import the tiny test plugins); stopped on exit."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def loopback_cluster(cpus: int = 2) -> Iterator[Any]:
    import ray
    from ray._private import ray_constants

    saved_path, cluster_mode = os.environ.get("PYTHONPATH"), ray_constants.ENABLE_RAY_CLUSTER
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), saved_path) if p)
    ray_constants.ENABLE_RAY_CLUSTER = False  # node address 127.0.0.1 instead of the machine's
    try:
        ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
        yield ray
    finally:
        ray.shutdown()
        ray_constants.ENABLE_RAY_CLUSTER = cluster_mode
        if saved_path is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved_path
