"""A run's peak memory is its own, even when a study or sweep ran other runs in the same process."""

from __future__ import annotations

import mmap
import sys

import pytest

from debiasbench.runtime.memory import peak_rss, peaks_mb, reset_peaks

MIB = 2**20


def _resident(mib: int) -> mmap.mmap:
    """``mib`` MiB of fresh anonymous memory, every page touched (so resident), given back to the
    system on close; numpy might reuse memory the process already holds and not raise the peak."""
    block = mmap.mmap(-1, mib * MIB)
    for offset in range(0, mib * MIB, mmap.PAGESIZE):
        block[offset] = 1
    return block


@pytest.mark.skipif(not sys.platform.startswith("linux") or peak_rss() is None, reason="needs Linux /proc")
def test_reset_peaks_forgets_an_earlier_runs_peak():
    reset_peaks()  # the process may have held more before (the tests before this one): start from its size now
    big = _resident(300)  # as an earlier run's model would be
    earlier = peaks_mb()["cpu"]
    big.close()
    reset_peaks()
    later = peaks_mb()["cpu"]
    assert earlier - later > 200, (earlier, later)  # the next run no longer reports the earlier run's peak
    again = _resident(100)
    assert peaks_mb()["cpu"] - later > 80  # and its own allocations still count
    again.close()
