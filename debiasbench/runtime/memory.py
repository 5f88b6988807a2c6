"""Peak memory of a run, per device: the process's resident set and each CUDA device's allocator peak.

A model split with ``--device-map auto`` lives on several GPUs (and maybe the CPU), so one number
from one device would understate what the run needed; the run record keeps every device's peak.
"""

from __future__ import annotations

import resource
import sys

MIB = 2**20
_CLEARED_PEAK_MB = 0.0  # the highest resident peak wiped by a reset of the kernel's counter (see note_cleared_peak)


def note_cleared_peak(peak_bytes: int | None) -> None:
    """Remember the process's resident peak before something resets the kernel's high-water mark
    (``--batch-size auto`` measures through ``/proc/self/clear_refs``, which also lowers ``ru_maxrss``)."""
    global _CLEARED_PEAK_MB
    if peak_bytes is not None:
        _CLEARED_PEAK_MB = max(_CLEARED_PEAK_MB, peak_bytes / MIB)


def reset_peaks() -> None:
    """Start the CUDA allocators' peak counters afresh (a run in a process that ran others, e.g. tests)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return
    for index in range(torch.cuda.device_count()):
        torch.cuda.reset_peak_memory_stats(index)


def peaks_mb() -> dict[str, float]:
    """``{"cpu": peak RSS of the process, "cuda:N": allocator peak of device N, ...}`` in MiB.

    CPU: ``ru_maxrss`` (the process's high-water mark, which includes the Python runtime and
    libraries, not only the model), or a higher peak noted before a reset of that mark. CUDA: ``torch.cuda.max_memory_allocated`` of each device torch
    has touched (the tensors' peak, not the allocator's cached blocks).
    """
    out = {"cpu": max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, _CLEARED_PEAK_MB)}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        for index in range(torch.cuda.device_count()):
            out[f"cuda:{index}"] = torch.cuda.max_memory_allocated(index) / MIB
    return out


def headline_mb(peaks: dict[str, float]) -> float:
    """The run's ``peak_memory_mb``: the CUDA peaks summed when the run used a GPU, else the CPU peak."""
    gpu = [value for name, value in peaks.items() if name.startswith("cuda") and value > 0]
    return sum(gpu) if gpu else peaks["cpu"]
