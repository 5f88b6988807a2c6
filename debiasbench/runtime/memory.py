"""Peak memory of a run, per device: the process's resident set and each CUDA device's allocator peak.

A model split with ``--device-map auto`` lives on several GPUs (and maybe the CPU), so one number
from one device would understate what the run needed; the run record keeps every device's peak.
"""

from __future__ import annotations

import os
import re
import resource
import sys
from pathlib import Path

MIB = 2**20
_CLEARED_PEAK_MB = 0.0  # the highest resident peak wiped by a reset of the kernel's counter (see note_cleared_peak)


def note_cleared_peak(peak_bytes: int | None) -> None:
    """Remember the process's resident peak before something resets the kernel's high-water mark
    (``--batch-size auto`` measures through ``/proc/self/clear_refs``, which also lowers ``ru_maxrss``)."""
    global _CLEARED_PEAK_MB
    if peak_bytes is not None:
        _CLEARED_PEAK_MB = max(_CLEARED_PEAK_MB, peak_bytes / MIB)


def reset_peaks() -> None:
    """Start every peak counter afresh, for a run in a process that ran others (a study's or sweep's
    runs in one process, tests): the CUDA allocators' peaks and, on Linux, the process's resident
    high-water mark (``/proc/self/clear_refs``), so each run records its own peak, not the largest
    of every run before it."""
    global _CLEARED_PEAK_MB
    _CLEARED_PEAK_MB = 0.0
    clear_peak_rss()  # where it cannot (not Linux, not allowed), ru_maxrss, the process's peak, stands
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return
    for index in range(torch.cuda.device_count()):
        torch.cuda.reset_peak_memory_stats(index)


def peaks_mb() -> dict[str, float]:
    """``{"cpu": peak RSS of the process, "cuda:N": allocator peak of device N, ...}`` in MiB.

    CPU: the process's resident high-water mark since the last :func:`reset_peaks` (``VmHWM``;
    ``ru_maxrss`` where /proc is missing), which includes the Python runtime and libraries, not only
    the model, or a higher peak noted before a reset of that mark. CUDA: ``torch.cuda.max_memory_allocated`` of each device torch
    has touched (the tensors' peak, not the allocator's cached blocks).
    """
    hwm = peak_rss()
    resident = hwm / MIB if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"cpu": max(resident, _CLEARED_PEAK_MB)}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        for index in range(torch.cuda.device_count()):
            out[f"cuda:{index}"] = torch.cuda.max_memory_allocated(index) / MIB
    return out


def headline_mb(peaks: dict[str, float]) -> float:
    """The run's ``peak_memory_mb``: the CUDA peaks summed when the run used a GPU, else the CPU peak."""
    gpu = [value for name, value in peaks.items() if name.startswith("cuda") and value > 0]
    return sum(gpu) if gpu else peaks["cpu"]


def clear_peak_rss() -> bool:
    """Lower the kernel's resident high-water mark to the current size (Linux ``/proc/<pid>/clear_refs``);
    False where that is not possible."""
    try:
        Path(f"/proc/{os.getpid()}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss() -> int | None:
    """The process's peak resident set since the last reset (Linux ``VmHWM``), in bytes; None elsewhere."""
    return status_bytes("VmHWM")


def status_bytes(field: str) -> int | None:
    """A ``kB`` field of ``/proc/<pid>/status`` in bytes (Linux), or None."""
    try:
        match = re.search(rf"{field}:\s+(\d+) kB", Path(f"/proc/{os.getpid()}/status").read_text())
    except OSError:
        return None
    return int(match.group(1)) * 1024 if match else None
