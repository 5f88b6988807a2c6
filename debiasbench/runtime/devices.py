"""Device, dtype and seeding helpers (torch is imported only when these are called)."""

from __future__ import annotations

import os
import random
from typing import Any

from debiasbench.errors import DebiasbenchError
from debiasbench.runtime.distributed import cpu_launch, launched

DTYPES = ("float32", "bfloat16", "float16")
DEVICES = ("auto", "cpu", "cuda", "mps")
DEVICE_MAPS = ("auto",)
"""``--device-map`` values: ``auto`` splits the model over the visible accelerators (then CPU)."""


def check_device_map(device_map: str | None, device: str) -> None:
    """``--device-map`` is absent or known, and not combined with an explicit ``--device``: a device
    map places the model itself, so a named device would be silently overridden."""
    if device_map is None:
        return
    if device_map not in DEVICE_MAPS:
        raise DebiasbenchError(f"unknown --device-map {device_map!r}; use one of {', '.join(DEVICE_MAPS)} (or leave it out)")
    if device != "auto":
        raise DebiasbenchError(f"--device-map {device_map} places the model itself and cannot be combined with --device {device}; "
                               "leave --device out (or drop --device-map)")


def resolve_device(name: str = "auto") -> str:
    """``auto`` -> cuda if available, else mps, else cpu; an unavailable device is one clear error."""
    import torch

    if name == "auto":
        if cpu_launch():  # accelerate launch --cpu
            return "cpu"
        if torch.cuda.is_available():
            return _own_gpu("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    base = name.split(":")[0]
    if base not in DEVICES:
        raise DebiasbenchError(f"unknown device {name!r}; use one of {', '.join(DEVICES)}")
    if base == "cuda" and not torch.cuda.is_available():
        raise DebiasbenchError("--device cuda asked for, but torch sees no CUDA device; use --device auto or cpu")
    if base == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise DebiasbenchError("--device mps asked for, but MPS is not available; use --device auto or cpu")
    return _own_gpu(name)


def _own_gpu(name: str) -> str:
    """Under ``accelerate launch`` with several processes, plain ``cuda`` is each process's own GPU
    (``cuda:LOCAL_RANK``), so the processes do not all load onto the first one."""
    local = os.environ.get("LOCAL_RANK", "")
    if name == "cuda" and local.isdigit() and launched().parallel:
        return f"cuda:{int(local)}"
    return name


def check_threads(count: int | None) -> None:
    """``--threads`` is None (every core) or between 1 and the machine's cores x 4 (far more
    threads than cores only slows a run down, and very large counts crash OpenMP)."""
    import os

    if count is not None and count < 1:
        raise DebiasbenchError(f"--threads must be at least 1 (got {count}); give each concurrent run a share of the cores")
    cores = os.cpu_count() or 1
    if count is not None and count > 4 * cores:
        raise DebiasbenchError(f"--threads {count} is more than 4x this machine's {cores} cores; use at most {4 * cores} "
                               "(or leave it out to use every core)")


def set_threads(count: int | None) -> None:
    """Use ``count`` CPU threads in torch. Runs sharing a machine each need their own share of the
    cores: two runs that each use every core slow each other down several times over."""
    check_threads(count)
    if count is None:
        return
    import torch

    torch.set_num_threads(count)


def torch_dtype(name: str) -> Any:
    """``float32`` -> torch.float32, etc."""
    import torch

    if name not in DTYPES:
        raise DebiasbenchError(f"unknown dtype {name!r}; use one of {', '.join(DTYPES)}")
    return getattr(torch, name)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA) so CPU runs are deterministic."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
